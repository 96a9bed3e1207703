import { assert, assertEquals, assertThrows } from "../testing/asserts.ts";
import { ConfigError } from "../config/config_error.ts";
import {
  checkRunSecret,
  ControlOpener,
  ControlRejectedError,
  ControlSealer,
  formatSecretFile,
  newRunSecret,
  parseSecretFile,
  runKeys,
} from "./control_auth.ts";

const secret = newRunSecret();
const keys = runKeys(secret, "run-a");
const subject = `pb.${keys.namespace}.ctl.result`;
const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("a sealed message opens once, to its body; its replay is refused", () => {
  const sealer = new ControlSealer(keys, "ranks");
  const opener = new ControlOpener(keys);
  const first = sealer.seal(subject, { rank: 0, ok: true });
  const second = sealer.seal(subject, { rank: 1, ok: true });
  assertEquals(JSON.parse(text(opener.open(subject, first))), { rank: 0, ok: true });
  assertEquals(JSON.parse(text(opener.open(subject, second))), { rank: 1, ok: true });
  const replay = assertThrows(() => opener.open(subject, first), ControlRejectedError);
  assert(replay.message.includes(subject) && replay.message.includes("replay"), replay.message);
});

Deno.test("forged, tampered, misdirected and other runs' messages are refused, naming the subject", () => {
  const sealer = new ControlSealer(keys, "coordinator");
  const opener = () => new ControlOpener(keys);
  const sealed = sealer.seal(subject, { seed: 1 });
  // The body changed in flight (seed 1 -> 7), same header.
  const tampered = new TextEncoder().encode(text(sealed).replace('"seed":1', '"seed":7'));
  // The right form with a made-up MAC; a plain JSON message; another run's sealed message; the
  // same message on another subject; another secret's.
  const forged = new TextEncoder().encode(`PB1 coordinator-abc 1 ${"0".repeat(64)}\n{"seed":7}`);
  const plain = new TextEncoder().encode(JSON.stringify({ seed: 7 }));
  const otherRun = new ControlSealer(runKeys(secret, "run-b"), "coordinator").seal(subject, {});
  const otherSecret = new ControlSealer(runKeys(newRunSecret(), "run-a"), "c").seal(subject, {});
  const elsewhere = `pb.${keys.namespace}.ctl.start`;
  for (
    const [what, data, on] of [
      ["tampered", tampered, subject],
      ["forged", forged, subject],
      ["plain", plain, subject],
      ["other run", otherRun, subject],
      ["other secret", otherSecret, subject],
      ["other subject", sealed, elsewhere],
    ] as const
  ) {
    const error = assertThrows(() => opener().open(on, data), ControlRejectedError);
    assert(error.message.includes(on), `${what}: ${error.message}`);
  }
  const huge = new Uint8Array(17 * 1024 * 1024);
  assertThrows(() => opener().open(subject, huge), ControlRejectedError, "bytes");
});

Deno.test("a run's namespace hides its id and differs per run and per secret", () => {
  assert(/^r[0-9a-f]{24}$/.test(keys.namespace), keys.namespace);
  assert(keys.namespace !== runKeys(secret, "run-b").namespace);
  assert(keys.namespace !== runKeys(newRunSecret(), "run-a").namespace);
});

Deno.test("a malformed secret is a one-line error that does not show it", () => {
  const error = assertThrows(
    () => checkRunSecret("not-a-secret-but-private", "PHANTOM_RUN_SECRET"),
    ConfigError,
  );
  assert(error.message.includes("PHANTOM_RUN_SECRET"), error.message);
  assert(!error.message.includes("private"), error.message);
  assertEquals(checkRunSecret(`${secret.toUpperCase()}\n`, "x"), secret);
});

Deno.test("a secret file carries the secret and, for the bench's own server, its token", () => {
  assertEquals(parseSecretFile(formatSecretFile(secret), "f"), { secret });
  assertEquals(parseSecretFile(formatSecretFile(secret, "t0k"), "f"), { secret, natsToken: "t0k" });
  const error = assertThrows(
    () => parseSecretFile(`${secret}\nhello world\n`, "--secret-file"),
    ConfigError,
  );
  assert(error.message.includes("--secret-file") && !error.message.includes(secret), error.message);
});
