/**
 * Generates ATSPro-shaped documents (shared/atspro/shapes.md and fixtures/): resumes of 2–4 KB,
 * jobs (placeholders and completed), optimization/research/score results, and better-auth users.
 * Deterministic for a seed, so a test, the demo and the benchmark can regenerate the same data.
 * The quirks of the real data are kept at realistic rates: placeholders with null resume_data,
 * missing created_at, naive vs "+00:00" timestamps, test_user without a "user" row, unicode,
 * statuses outside the target's CHECK list, literal dotted attribute names.
 */

/** Small, fast, seedable PRNG (mulberry32). */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error("pick from an empty list");
    return item;
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  uuid(): string {
    const hex = (n: number): string =>
      Array.from({ length: n }, () => Math.floor(this.next() * 16).toString(16)).join("");
    return `${hex(8)}-${hex(4)}-4${hex(3)}-${this.pick(["8", "9", "a", "b"])}${hex(3)}-${hex(12)}`;
  }

  /** A better-auth style id: 32 characters of [A-Za-z0-9]. */
  authId(): string {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    return Array.from({ length: 32 }, () =>
      alphabet.charAt(Math.floor(this.next() * alphabet.length)),
    ).join("");
  }
}

const FIRST = [
  "Priya",
  "Zoë",
  "Liam",
  "Mateo",
  "Hana",
  "Nguyễn",
  "Amara",
  "Jonas",
  "Sofía",
  "Kenji",
  "Aoife",
  "Olu",
];
const LAST = [
  "Raman",
  "Łukasiewicz",
  "O'Connor",
  "García",
  "Sato",
  "Văn An",
  "Okafor",
  "Berg",
  "Núñez",
  "田中",
  "Byrne",
];
const COMPANIES = [
  "Northwind Labs",
  "Pomelo Banking",
  "Kestrel Travel",
  "Société Lumière Analytique",
  "株式会社ミライテック",
  "Cobalt Ledger",
  "Harbor & Pine",
];
const TITLES = [
  "Staff Software Engineer",
  "Product Designer",
  "Data Analyst",
  "Engineering Manager",
  "SRE",
];
const SKILLS = [
  "TypeScript",
  "PostgreSQL",
  "Figma",
  "Kubernetes",
  "Python",
  "gRPC",
  "React",
  "Terraform",
  "SQL",
  "Go",
];
const SENTENCES = [
  "Redesigned the onboarding flow, lifting activation by 14 percent.",
  "Cut p95 API latency from 840 ms to 190 ms with read replicas and query batching.",
  "Introduced contract tests that reduced integration regressions by 60 percent.",
  "Mentored four engineers through promotion to senior level.",
  "Led the migration of a monolith's billing module to an event-driven service.",
  "Partnered with design to ship an accessible checkout meeting WCAG 2.1 AA.",
];

export interface AtsproUser {
  id: string;
  name: string;
  email: string;
  emailVerified: boolean;
  image: string | null;
  createdAt: string;
  updatedAt: string;
}

/** A `user_id` the real data has but the "user" table never had (shapes.md §2). */
export const ORPHAN_USER_ID = "test_user";

const BASE_TIME = Date.UTC(2025, 7, 16, 9, 0, 0);

/** `datetime.utcnow().isoformat()`: naive UTC with microseconds, fraction dropped when zero. */
function naiveTimestamp(random: Random, offsetMs: number): string {
  const ms = BASE_TIME + offsetMs;
  const micros = random.int(0, 999999);
  const iso = new Date(ms).toISOString().slice(0, 19);
  return micros === 0 ? iso : `${iso}.${String(micros).padStart(6, "0")}`;
}

function sentences(random: Random, count: number): string[] {
  return Array.from({ length: count }, () => random.pick(SENTENCES));
}

export function generateUsers(random: Random, count: number): AtsproUser[] {
  return Array.from({ length: count }, (_, i) => {
    const name = `${random.pick(FIRST)} ${random.pick(LAST)}`;
    const created = new Date(BASE_TIME - 86_400_000 * 3 + i * 1000).toISOString().replace("Z", "");
    return {
      id: random.authId(),
      name,
      email: `user${i}@example.org`,
      emailVerified: random.chance(0.5),
      image: random.chance(0.5)
        ? `https://avatars.example-cdn.com/u/${random.int(100000, 999999)}.png`
        : null,
      createdAt: created,
      updatedAt: created,
    };
  });
}

function resumeData(random: Random): Record<string, unknown> {
  const name = `${random.pick(FIRST)} ${random.pick(LAST)}`;
  return {
    contact_info: {
      full_name: name,
      email: `${name.split(" ")[0]?.toLowerCase() ?? "someone"}@example.com`,
      phone: random.chance(0.8)
        ? `+1 (415) 555-${String(random.int(0, 9999)).padStart(4, "0")}`
        : null,
      address: random.chance(0.6)
        ? random.pick(["Oakland, CA", "Kraków, Poland", "東京都渋谷区", "Madrid"])
        : null,
      links: random.chance(0.7)
        ? [{ name: "LinkedIn", url: `https://www.linkedin.com/in/u${random.int(1, 1e6)}` }]
        : [],
    },
    summary: sentences(random, random.int(2, 4)).join(" "),
    work_experience: Array.from({ length: random.int(3, 5) }, (_, i) => ({
      company: random.pick(COMPANIES),
      position: random.pick(TITLES),
      start_date: String(2010 + i * 2),
      end_date: i === 0 ? null : String(2012 + i * 2),
      is_current: i === 0,
      description: random.chance(0.5) ? sentences(random, 1)[0] : null,
      responsibilities: sentences(random, random.int(2, 4)),
      skills: Array.from({ length: random.int(0, 3) }, () => random.pick(SKILLS)),
    })),
    education: Array.from({ length: random.int(1, 2) }, () => ({
      institution: random.pick([
        "TU Delft",
        "Universidad de Chile",
        "UC Berkeley",
        "Jagiellonian University",
      ]),
      degree: random.pick(["BSc Computer Science", "MA Design", "BEng Software"]),
      field_of_study: null,
      graduation_date: String(random.int(2005, 2020)),
      gpa: null,
      honors: [],
      relevant_courses: [],
      skills: [],
    })),
    certifications: random.chance(0.5)
      ? [
          {
            name: "AWS Solutions Architect",
            issuer: "AWS",
            date_obtained: "2022",
            expiration_date: null,
            credential_id: null,
          },
        ]
      : [],
    skills: Array.from({ length: random.int(6, 14) }, () => random.pick(SKILLS)),
  };
}

/** A resume as the application stored it; `index` spreads write times over the data set. */
export function generateResume(
  random: Random,
  users: readonly AtsproUser[],
  index: number,
): Record<string, unknown> {
  const userId = random.chance(0.02) ? ORPHAN_USER_ID : random.pick(users).id;
  const key = random.uuid();
  const at = index * 7_000;
  const roll = random.next();
  if (roll < 0.05) {
    // Placeholder still parsing (create_resume_placeholder).
    return {
      _key: key,
      user_id: userId,
      task_id: random.uuid(),
      status: "parsing",
      created_at: naiveTimestamp(random, at),
      resume_data: null,
      file_metadata: null,
    };
  }
  if (roll < 0.12) {
    return {
      _key: key,
      user_id: userId,
      status: "manual",
      source: "manual",
      created_at: naiveTimestamp(random, at),
      resume_data: resumeData(random),
      file_metadata: { source: "manual_entry", created_by: userId },
    };
  }
  const aware = roll > 0.9;
  const document: Record<string, unknown> = {
    _key: key,
    user_id: userId,
    file_metadata: {
      filename: `cv-${index}.pdf`,
      content_type: "application/pdf",
      size: random.int(20_000, 2_000_000),
      processed_at: naiveTimestamp(random, at),
    },
    resume_data: resumeData(random),
    status: "parsed",
  };
  if (aware) {
    // The later synchronous processor wrote aware timestamps and no task_id.
    const iso = new Date(BASE_TIME + at).toISOString().replace("Z", "+00:00");
    document["created_at"] = iso;
    document["updated_at"] = iso;
  } else {
    // Redis-era worker inserts carried a task_id and no created_at.
    document["task_id"] = random.uuid();
  }
  return document;
}

export function generateJob(
  random: Random,
  users: readonly AtsproUser[],
  index: number,
): Record<string, unknown> {
  const userId = random.chance(0.02) ? ORPHAN_USER_ID : random.pick(users).id;
  const at = index * 9_000;
  const created = naiveTimestamp(random, at);
  const base = { _key: random.uuid(), user_id: userId, type: "job" };
  if (random.chance(0.4)) {
    return {
      ...base,
      status: "pending",
      source_url: `https://boards.example.com/jobs/${random.int(1, 1e6)}`,
      created_at: created,
      updated_at: created,
    };
  }
  const company = random.pick(COMPANIES);
  return {
    ...base,
    task_id: random.uuid(),
    status: random.chance(0.03) ? "applied" : "completed",
    parsed_data: {
      company,
      title: random.pick(TITLES),
      description: sentences(random, random.int(3, 8)).join("\n\n"),
      salary: random.chance(0.5) ? "Competitive" : null,
      responsibilities: sentences(random, random.int(2, 5)),
      qualifications: ["5+ years of experience", `Strong skills in ${random.pick(SKILLS)}`],
      logistics: null,
      location: [random.pick(["Remote", "Berlin", "Oakland, CA"])],
      additional_info: null,
      link: null,
    },
    created_at: created,
    updated_at: created,
  };
}

/** An optimization/research/score result referencing a resume and a job by `_key`. */
export function generateResult(
  random: Random,
  userId: string,
  resumeKey: string,
  jobKey: string,
  index: number,
): Record<string, unknown> {
  const base = {
    task_id: random.uuid(),
    user_id: userId,
    resume_id: resumeKey,
    job_id: jobKey,
  };
  const created = naiveTimestamp(random, index * 11_000);
  const kind = random.pick(["optimization", "optimization", "research", "score"] as const);
  if (kind === "optimization") {
    return {
      type: "optimization",
      ...base,
      content: `# Optimized resume\n\n## Professional Summary\n${sentences(random, 3).join(" ")}`,
      optimized_data: resumeData(random),
      created_at: created,
      status: "completed",
    };
  }
  if (kind === "research") {
    const company = random.pick(COMPANIES);
    const body = sentences(random, random.int(6, 12)).join(" ");
    return {
      type: "research",
      ...base,
      content: `# Company Research Report: ${company}\n**Position:** ${random.pick(TITLES)}\n\n${body}`,
      company,
      job_title: random.pick(TITLES),
      metadata: {
        content_type: "markdown",
        report_type: "company_research",
        word_count: body.split(" ").length,
      },
      created_at: created,
      status: "completed",
    };
  }
  return {
    type: "score",
    ...base,
    score_data: {
      overall_score: random.int(0, 100),
      skills_score: random.int(0, 100),
      experience_score: random.int(0, 100),
      education_score: random.int(0, 100),
      keywords_score: random.int(0, 100),
      career_score: random.int(0, 100),
      strengths: sentences(random, 2),
      gaps: [],
      recommendations: sentences(random, 1),
      rationale:
        "Weighted 30/25/20/15/10 across skills, experience, education, keywords and career.",
    },
    created_at: created,
    status: "completed",
  };
}
