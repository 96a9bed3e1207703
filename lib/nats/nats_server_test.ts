import { connectNats, describeNats } from "./connection.ts";
import {
  isOurConfigDir,
  NatsServerError,
  reapOrphanedServers,
  startNatsServer,
} from "./nats_server.ts";
import { assert, assertEquals, assertRejects } from "../testing/asserts.ts";
import { natsTest } from "../testing/system.ts";
import { isAlive } from "../system/process.ts";

natsTest(
  "nats-server starts on a free port with the asked max_payload and stops by pid",
  async () => {
    const server = await startNatsServer({ maxPayloadBytes: 4 * 1024 * 1024 });
    const nc = await connectNats(server.connection);
    assertEquals(nc.info?.max_payload, 4 * 1024 * 1024);
    await nc.close();
    await server.stop();
    await server.stop(); // idempotent
    assertEquals(isAlive(server.pid), false);
  },
);

Deno.test("a missing nats-server binary is an error that says how to install it", async () => {
  await assertRejects(
    () => startNatsServer({ binary: "/nonexistent/nats-server" }),
    NatsServerError,
    "sudo apt-get install nats-server",
  );
});

natsTest(
  "token authentication: refused without the token, accepted with it, never described",
  async () => {
    await using server = await startNatsServer({ token: "s3cret-token" });
    assert((await rawConnect(server.port)).includes("Authorization Violation"));
    const nc = await connectNats({ servers: server.url, token: "s3cret-token" });
    await nc.close();
    const text = describeNats({
      servers: `nats://u:pw@127.0.0.1:${server.port}`,
      token: "s3cret-token",
    });
    assert(!text.includes("s3cret") && !text.includes("pw@"), text);
  },
);

natsTest("a server started without a token still requires one: its own, fresh", async () => {
  await using a = await startNatsServer();
  await using b = await startNatsServer();
  assert(a.token.length >= 32 && a.token !== b.token, "tokens are fresh per server");
  // Refusals are checked speaking the protocol raw: a refused nats.js client leaves a socket
  // reset behind that this long-lived test process does not need.
  assert((await rawConnect(a.port)).includes("Authorization Violation"), "no token accepted");
  assert(
    (await rawConnect(a.port, b.token)).includes("Authorization Violation"),
    "another server's token accepted",
  );
  assert((await rawConnect(a.port, a.token)).includes("PONG"), "its own token refused");
  await (await connectNats(a.connection)).close();
});

/**
 * Connects with the NATS protocol by hand (no client library, so no retries).
 *
 * @returns What the server answered to CONNECT and PING.
 */
async function rawConnect(port: number, token?: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const connect = JSON.stringify({ verbose: false, ...(token ? { auth_token: token } : {}) });
  await conn.write(new TextEncoder().encode(`CONNECT ${connect}\r\nPING\r\n`));
  let reply = "";
  const buf = new Uint8Array(4096);
  while (!reply.includes("-ERR") && !reply.includes("PONG")) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) break;
    reply += new TextDecoder().decode(buf.subarray(0, n));
  }
  conn.close();
  return reply;
}

Deno.test("orphan clean-up deletes only config folders the suite made, never a folder an entry names", async () => {
  // A registry of its own (the process's environment is shared with tests running beside this).
  const registry = await Deno.makeTempDir();
  const victim = await Deno.makeTempDir({ prefix: "phantom-nats-" }); // right name, no marker
  const other = await Deno.makeTempDir(); // any folder
  try {
    await Deno.writeTextFile(`${victim}/precious`, "keep");
    await Deno.writeTextFile(`${other}/precious`, "keep");
    const dead = 2 ** 22 + 12345; // above pid_max on most systems: no such process
    for (const [i, configDir] of [victim, other, "/"].entries()) {
      await Deno.writeTextFile(
        `${registry}/${dead + i}.json`,
        JSON.stringify({ serverPid: dead + i, ownerPid: dead, configDir }),
      );
    }
    assertEquals(await reapOrphanedServers(registry), []);
    assertEquals(await Deno.readTextFile(`${victim}/precious`), "keep");
    assertEquals(await Deno.readTextFile(`${other}/precious`), "keep");
    assertEquals([...Deno.readDirSync(registry)].length, 0, "stale entries removed");
    assert(!isOurConfigDir(victim) && !isOurConfigDir(other) && !isOurConfigDir("/"));
  } finally {
    for (const dir of [registry, victim, other]) await Deno.remove(dir, { recursive: true });
  }
});

natsTest(
  "a killed server is named by whenDead and restarts on the same port and token",
  async () => {
    await using server = await startNatsServer();
    const first = server.pid;
    const dead = server.whenDead();
    Deno.kill(first, "SIGKILL");
    const why = await dead;
    assertEquals(why, `nats-server (pid ${first}, 127.0.0.1:${server.port}) died (SIGKILL)`);
    assertEquals(server.death(), why);
    await server.restart();
    assert(server.pid !== first && isAlive(server.pid), "a new process");
    assertEquals(server.death(), undefined, "alive again");
    assert((await rawConnect(server.port, server.token)).includes("PONG"), "same port and token");
    // A restart of a running server replaces its process; a stop is no death.
    const second = server.pid;
    await server.restart();
    assert(!isAlive(second) && isAlive(server.pid));
    let settled = false;
    server.whenDead().then(() => (settled = true));
    await server.stop();
    await new Promise((r) => setTimeout(r, 50));
    assertEquals(settled, false, "a stop is not a death");
    await assertRejects(() => server.restart(), NatsServerError, "stopped");
  },
);
