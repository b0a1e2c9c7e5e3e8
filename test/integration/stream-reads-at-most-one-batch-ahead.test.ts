/**
 * Back-pressure while streaming (DESIGN.md §2 invariant 6): the daemon reads and maps the next
 * batch while the current one commits, and no further. With a backlog far larger than a batch
 * and reading much faster than committing, what has been read but not committed stays within
 * a couple of batches; it never grows with the backlog.
 */
import { describe, expect, it } from "vitest";
import {
  atsproMapping,
  collectionOf,
  generateAtspro,
  insertAll,
  seedUsers,
  startAtsproSource,
  syncUntilCaughtUp,
} from "../support/sync-fixture.js";
import { useTestDatabase } from "../support/test-database.js";

const database = useTestDatabase();
const mapping = atsproMapping();
const BATCH = 50;
const BACKLOG = 3000;

describe("streaming back-pressure", () => {
  it("keeps what is read and not yet committed within two batches of a large backlog", async () => {
    const emulator = await startAtsproSource();
    try {
      const data = generateAtspro(11, 20);
      await seedUsers(database.url, data.users);
      insertAll(emulator.state, "jobs", data.jobs.slice(0, 1));
      await syncUntilCaughtUp(emulator, database.url, mapping);

      // A backlog of small single-document writes, then one stream over all of it.
      const owner = data.users[0]?.id ?? "";
      const jobs = collectionOf(emulator.state, "jobs");
      for (let i = 0; i < BACKLOG; i++) {
        emulator.state.write(jobs, undefined, false, (writes) =>
          emulator.state.insert(
            writes,
            jobs,
            { _key: `b${i}`, user_id: owner, type: "job", status: "pending" },
            {},
          ),
        );
      }

      let committedUpTo = 0n;
      let committedChanges = 0;
      let readChanges = 0;
      let mostAhead = 0;
      await syncUntilCaughtUp(
        emulator,
        database.url,
        mapping,
        { maxBatchChanges: BATCH, tailChunkSize: 16384 },
        {
          polled(info) {
            readChanges += info.markers;
            mostAhead = Math.max(mostAhead, readChanges - committedChanges);
          },
          committed(info) {
            committedChanges += info.changes;
            if (info.appliedTick !== null) committedUpTo = info.appliedTick;
          },
        },
      );

      expect(committedChanges).toBe(BACKLOG);
      expect(committedUpTo).toBeGreaterThan(0n);
      // One batch committing, one read and mapped, and the chunk that overshoots a batch (a
      // 16 KiB chunk holds well under a hundred of these writes).
      expect(mostAhead).toBeGreaterThan(BATCH);
      expect(mostAhead).toBeLessThan(4 * BATCH + 100);
    } finally {
      await emulator.close();
    }
  }, 120_000);
});
