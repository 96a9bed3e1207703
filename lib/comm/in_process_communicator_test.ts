import { assertThrows } from "../testing/asserts.ts";
import { createInProcessGroup } from "./in_process_communicator.ts";
import { communicatorConformance } from "../testing/communicator_conformance.ts";

Deno.test("in-process communicator passes the conformance suite", async (t) => {
  await communicatorConformance(
    t,
    (size, timeoutMs) =>
      Promise.resolve({ comms: createInProcessGroup(size, { timeoutMs }), close: () => {} }),
  );
});

Deno.test("in-process group rejects a size below 1", () => {
  assertThrows(() => createInProcessGroup(0), RangeError, "size (0)");
});
