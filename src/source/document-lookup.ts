/**
 * Which keys of a collection exist in ArangoDB right now, asked in one request per batch of keys
 * (`PUT /_api/document/<collection>?onlyget=true`, arangojs `collection.documents()`). The
 * consistency check uses it for rows PostgreSQL has that the snapshot did not show: a replication
 * batch can only be dumped, not read by key.
 *
 * The answer lists every document asked for, in order: the document itself, or an error object
 * (errorNum 1202, document not found) in its place.
 */
import { Database } from "arangojs";
import { isArangoError } from "arangojs/errors";
import { type ArangoConnection, classifySourceError } from "./replication-api.js";

/** ArangoDB's "data source not found": the collection does not exist (any more). */
const COLLECTION_NOT_FOUND = 1203;

export class DocumentLookup {
  private readonly db: Database;

  constructor(connection: ArangoConnection) {
    this.db = new Database({
      url: connection.url,
      databaseName: connection.database,
      ...(connection.username === undefined
        ? {}
        : { auth: { username: connection.username, password: connection.password ?? "" } }),
      maxRetries: 0,
    });
  }

  /** The keys among `keys` that name a document of `collection` now. */
  async existing(collection: string, keys: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    if (keys.length === 0) return found;
    let answer: unknown;
    try {
      answer = await this.db.collection(collection).documents([...keys]);
    } catch (error) {
      if (isArangoError(error) && error.errorNum === COLLECTION_NOT_FOUND) return found;
      throw classifySourceError(`documents of ${collection}`, error);
    }
    if (!Array.isArray(answer)) return found;
    for (const item of answer as unknown[]) {
      if (typeof item !== "object" || item === null) continue;
      const document = item as Record<string, unknown>;
      if (document["error"] === true) continue;
      const key = document["_key"];
      if (typeof key === "string") found.add(key);
    }
    return found;
  }

  close(): void {
    this.db.close();
  }
}
