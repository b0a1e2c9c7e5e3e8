/** Small constructors for markers in assembler tests: ticks as numbers, one database, one cuid. */
import type {
  CollectionDropMarker,
  DocumentMarker,
  Marker,
  TransactionAbortMarker,
  TransactionBeginMarker,
  TransactionCommitMarker,
  UnknownMarker,
} from "../../../src/events/events.js";

const db = "atspro";
const cuid = "h68138D6305DA/100";

export function op(tick: number, tid: string, key: string): DocumentMarker {
  return {
    kind: "document-upsert",
    type: 2300,
    tick: BigInt(tick),
    db,
    cuid,
    tid,
    key,
    rev: "_kJVIf5W---",
    document: { _key: key, _rev: "_kJVIf5W---" },
  };
}

export function remove(tick: number, tid: string, key: string): DocumentMarker {
  return {
    kind: "document-remove",
    type: 2302,
    tick: BigInt(tick),
    db,
    cuid,
    tid,
    key,
    rev: "_kJVIf5W---",
  };
}

export function begin(tick: number, tid: string): TransactionBeginMarker {
  return { kind: "transaction-begin", type: 2200, tick: BigInt(tick), db, tid };
}

export function commit(tick: number, tid: string): TransactionCommitMarker {
  return { kind: "transaction-commit", type: 2201, tick: BigInt(tick), db, tid };
}

export function abort(tick: number, tid: string): TransactionAbortMarker {
  return { kind: "transaction-abort", type: 2202, tick: BigInt(tick), db, tid };
}

export function drop(tick: number): CollectionDropMarker {
  return { kind: "collection-drop", type: 2001, tick: BigInt(tick), db, cuid };
}

export function unknown(tick: number, tid: string | undefined): UnknownMarker {
  return { kind: "unknown", type: 2999, tick: BigInt(tick), db, tid, raw: {} };
}

export function keysOf(markers: readonly Marker[]): string[] {
  return markers.flatMap((marker) =>
    marker.kind === "document-upsert" || marker.kind === "document-remove" ? [marker.key] : [],
  );
}
