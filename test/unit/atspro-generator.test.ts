import { describe, expect, it } from "vitest";
import {
  ORPHAN_USER_ID,
  Random,
  generateJob,
  generateResult,
  generateResume,
  generateUsers,
} from "../../src/emulator/atspro-generator.js";

describe("ATSPro-shaped data generator", () => {
  it("is deterministic for a seed", () => {
    const a = new Random(7);
    const b = new Random(7);
    const users = generateUsers(a, 5);
    expect(generateUsers(b, 5)).toEqual(users);
    expect(generateResume(a, users, 1)).toEqual(generateResume(b, users, 1));
  });

  it("makes parsed resumes of 2–4 KB and keeps the real data's quirks", () => {
    const random = new Random(1);
    const users = generateUsers(random, 20);
    const resumes = Array.from({ length: 3000 }, (_, i) => generateResume(random, users, i));
    const parsed = resumes
      .filter((r) => r["status"] === "parsed")
      .map((r) => JSON.stringify(r).length);
    parsed.sort((x, y) => x - y);
    expect(parsed[Math.floor(parsed.length / 2)]).toBeGreaterThan(2000);
    expect(parsed[Math.floor(parsed.length / 2)]).toBeLessThan(4096);
    expect(resumes.some((r) => r["resume_data"] === null && r["status"] === "parsing")).toBe(true);
    expect(resumes.some((r) => r["user_id"] === ORPHAN_USER_ID)).toBe(true);
    expect(
      resumes.some(
        (r) => typeof r["created_at"] === "string" && r["created_at"].endsWith("+00:00"),
      ),
    ).toBe(true);
    expect(resumes.some((r) => r["created_at"] === undefined)).toBe(true);
    for (const resume of resumes) expect(resume["_key"]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("makes jobs and results that reference their parents by _key", () => {
    const random = new Random(3);
    const users = generateUsers(random, 3);
    const jobs = Array.from({ length: 200 }, (_, i) => generateJob(random, users, i));
    expect(new Set(jobs.map((j) => j["status"]))).toEqual(
      new Set(["pending", "completed", "applied"]),
    );
    const result = generateResult(random, "u1", "resume-key", "job-key", 0);
    expect(result).toMatchObject({ resume_id: "resume-key", job_id: "job-key", user_id: "u1" });
    expect(["optimization", "research", "score"]).toContain(result["type"]);
  });
});
