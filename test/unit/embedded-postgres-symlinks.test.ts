import { mkdir, mkdtemp, readFile, readlink, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { restoreSymlinks } from "../../src/demo/embedded-postgres.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** A package laid out like @embedded-postgres/<platform> after an install that ran no scripts. */
async function packageWithoutLinks(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "arango-pg-sync-links-"));
  dirs.push(dir);
  await mkdir(path.join(dir, "native", "lib"), { recursive: true });
  await writeFile(path.join(dir, "native", "lib", "libpq.so.5.18"), "library");
  await writeFile(
    path.join(dir, "native", "pg-symlinks.json"),
    JSON.stringify([
      { source: "native/lib/libpq.so.5.18", target: "native/lib/libpq.so" },
      { source: "native/lib/libpq.so.5.18", target: "native/lib/libpq.so.5" },
    ]),
  );
  return dir;
}

describe("embedded-postgres without its postinstall step", () => {
  it("re-creates the shared-library links, relative to their directory", async () => {
    const dir = await packageWithoutLinks();
    await restoreSymlinks(dir);
    for (const name of ["libpq.so", "libpq.so.5"]) {
      const link = path.join(dir, "native", "lib", name);
      expect(await readlink(link)).toBe("libpq.so.5.18");
      expect(await readFile(link, "utf8")).toBe("library");
    }
  });

  it("is idempotent, also when runs overlap", async () => {
    const dir = await packageWithoutLinks();
    await Promise.all([restoreSymlinks(dir), restoreSymlinks(dir)]);
    await restoreSymlinks(dir);
    expect(await readlink(path.join(dir, "native", "lib", "libpq.so.5"))).toBe("libpq.so.5.18");
  });
});
