import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LineSplitter, splitLines } from "../../../src/events/decode-marker.js";

const DROP = '{"tick":"189313","type":2001,"db":"_system","cuid":"h68138D6305DA/72385"}';
const BEGIN = '{"tick":"3651","type":2200,"db":"_system","tid":"556"}';

describe("splitLines", () => {
  it("returns every line of a complete body, the last one included", () => {
    expect(splitLines(`${BEGIN}\n${DROP}\n`)).toEqual({ lines: [BEGIN, DROP], torn: undefined });
  });

  it("treats an empty body (204) as no lines", () => {
    expect(splitLines("")).toEqual({ lines: [], torn: undefined });
  });

  it("reports a last line without its newline as torn instead of decoding it", () => {
    const cut = DROP.slice(0, 30);
    expect(splitLines(`${BEGIN}\n${cut}`)).toEqual({ lines: [BEGIN], torn: cut });
  });

  it("reports a body that is one unfinished line as torn", () => {
    expect(splitLines(DROP)).toEqual({ lines: [], torn: DROP });
  });

  it("skips empty lines", () => {
    expect(splitLines(`\n${BEGIN}\n\n${DROP}\n`).lines).toEqual([BEGIN, DROP]);
  });
});

describe("LineSplitter", () => {
  it("completes a line split across chunks", () => {
    const splitter = new LineSplitter();
    expect(splitter.push(BEGIN.slice(0, 10))).toEqual([]);
    expect(splitter.push(`${BEGIN.slice(10)}\n${DROP.slice(0, 5)}`)).toEqual([BEGIN]);
    expect(splitter.push(`${DROP.slice(5)}\n`)).toEqual([DROP]);
    expect(splitter.finish()).toBeUndefined();
  });

  it("returns the torn remainder at the end and starts over", () => {
    const splitter = new LineSplitter();
    splitter.push(`${BEGIN}\n{"tick":"36`);
    expect(splitter.finish()).toBe('{"tick":"36');
    expect(splitter.push(`${DROP}\n`)).toEqual([DROP]);
  });

  it("yields the same lines as splitLines however the body is chunked", () => {
    const line = fc.string({ minLength: 1 }).filter((text) => !text.includes("\n"));
    fc.assert(
      fc.property(
        fc.array(line, { maxLength: 8 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 6 }),
        (lines, complete, cutPoints) => {
          const body = lines.join("\n") + (complete && lines.length > 0 ? "\n" : "");
          const cuts = [...new Set(cutPoints.map((cut) => cut % (body.length + 1)))].sort(
            (a, b) => a - b,
          );
          const splitter = new LineSplitter();
          const seen: string[] = [];
          let start = 0;
          for (const cut of [...cuts, body.length]) {
            seen.push(...splitter.push(body.slice(start, cut)));
            start = cut;
          }
          const torn = splitter.finish();
          expect({ lines: seen, torn }).toEqual(splitLines(body));
        },
      ),
    );
  });
});
