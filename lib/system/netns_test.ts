import { assertEquals } from "../testing/asserts.ts";
import { isLeftover } from "./netns.ts";

Deno.test("isLeftover: only a dead owner's namespaces, or a reused pid's older ones", () => {
  // Owner gone: always.
  assertEquals(isLeftover(false, undefined, undefined), true);
  assertEquals(isLeftover(false, undefined, 5), true);
  // Owner alive and made the namespace after it started (this process's own hosts, held by
  // tests running in parallel): never.
  assertEquals(isLeftover(true, 1000, 1000), false);
  assertEquals(isLeftover(true, 1000, 2500), false);
  // The pid now belongs to a process that started after the namespace was made: a leftover.
  assertEquals(isLeftover(true, 1000, 999), true);
  // Not known when either happened: a live owner keeps it.
  assertEquals(isLeftover(true, undefined, 999), false);
  assertEquals(isLeftover(true, 1000, undefined), false);
});
