import { parseFlags } from "../cli/flags.ts";
import { natsAuthFlags, natsConnectionFromValues } from "../cli/nats_flags.ts";
import { ConfigError } from "../config/config_error.ts";
import { connectNats, describeNats, natsConnectionEnv, redactServers } from "./connection.ts";
import { assert, assertEquals, assertRejects } from "../testing/asserts.ts";

Deno.test("inconsistent connection options are config errors", async () => {
  await assertRejects(
    () => connectNats({ servers: "nats://h:1", user: "alice" }),
    ConfigError,
    "nats.user",
  );
  await assertRejects(
    () => connectNats({ servers: "nats://h:1", token: "t", credsFile: "/x" }),
    ConfigError,
    "must use one authentication method",
  );
  await assertRejects(() => connectNats({ servers: "not a url" }), ConfigError, "nats.servers");
});

Deno.test("connection flags fall back to PHANTOM_NATS_* and round-trip to a child's environment", () => {
  const table = natsAuthFlags("nats-");
  const parsed = parseFlags(table, ["--nats-user", "alice"], {
    env: { PHANTOM_NATS_PASSWORD: "pw", PHANTOM_NATS_TLS_CA: "/ca.pem", PHANTOM_NATS_USER: "bob" },
  });
  assert(parsed !== "help");
  const o = natsConnectionFromValues("nats://a:1,nats://b:2", parsed.values, "nats-");
  assertEquals(o.servers, ["nats://a:1", "nats://b:2"]);
  // The flag wins over the variable; absent flags take the variable.
  assertEquals([o.user, o.password, o.tls?.caFile], ["alice", "pw", "/ca.pem"]);
  assertEquals(natsConnectionEnv(o), {
    PHANTOM_NATS_USER: "alice",
    PHANTOM_NATS_PASSWORD: "pw",
    PHANTOM_NATS_TLS_CA: "/ca.pem",
  });
});

Deno.test("descriptions and server lists never carry a secret", () => {
  const text = describeNats({
    servers: ["nats://u:pw@h:1", "nats://h2:2"],
    password: "pw",
    user: "u",
  });
  assertEquals(text, "nats://h:1,nats://h2:2 (user u, password)");
  assertEquals(redactServers(["tls://a:b@h:1"]), "tls://h:1");
});
