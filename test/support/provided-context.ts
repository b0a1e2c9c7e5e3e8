/**
 * What the global setup hands to every test file through vitest's provide/inject, typed by
 * augmenting vitest's ProvidedContext. Values cross from the main process to the test workers,
 * so they must be serialisable.
 */
declare module "vitest" {
  export interface ProvidedContext {
    /** URL of the server's maintenance database: for tests that create their own databases. */
    pgServerUrl: string;
    /** Database with the better-auth fixture and every migration applied; cloned per test file. */
    pgTemplateDatabase: string;
    /** server_version of the server under test, e.g. "18.4" or "15.18 (Debian 15.18-0+deb12u1)". */
    pgServerVersion: string;
    /** Directory where test files record the databases they keep, for the global teardown. */
    pgKeptDatabasesDir: string;
  }
}

export {};
