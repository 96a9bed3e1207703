// The control plane against a third process on the same NATS server (as anyone with the
// server's credentials is on a shared or external server): it listens to everything, forges
// start, result, abort and heartbeat messages the moment it sees the run, and replays every
// control message it sees. The run must not learn of any of it beyond one line per subject: its
// results equal a run without the intruder bit for bit, and the intruder never learns the run id.
// The server is started here on a free port and stopped by pid.
import { validateTrainConfig } from "../lib/config/config.ts";
import { connectNats } from "../lib/nats/connection.ts";
import { runOverNats } from "../lib/runtime/nats_run.ts";
import { assert, assertEquals } from "../lib/testing/asserts.ts";
import { fileNatsServer, NATS_SERVER, NO_SANITIZERS, systemTest } from "../lib/testing/system.ts";

const server = await fileNatsServer();

const config = validateTrainConfig({
  mode: "tp",
  ranks: 4,
  width: 64,
  batch: 8,
  layers: 2,
  steps: 6,
  seed: 1,
  task: { evalEvery: 3, evalSize: 16 },
});

const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

systemTest([NATS_SERVER], {
  ...NO_SANITIZERS,
  name: "forged and replayed control messages on a shared server never change a recorded result",
  fn: async () => {
    const clean = await runOverNats(config, { connection: server.connection, processes: 2 });

    const intruder = await connectNats({ ...server.connection, name: "intruder" });
    const seen: { subject: string; data: Uint8Array }[] = [];
    const attacked = new Set<string>();
    const forge = (namespace: string) => {
      const ctl = (kind: string) => `pb.${namespace}.ctl.${kind}`;
      // What the probe did: a start with another seed, results with made-up numbers, an abort
      // whose text carries escape sequences and a fake verdict line, heartbeats for every rank.
      intruder.publish(ctl("start"), encode({ config: { ...config, seed: 7 }, dtype: "float32" }));
      for (let rank = 0; rank < config.ranks; rank++) {
        intruder.publish(
          ctl("result"),
          encode({
            rank,
            ok: true,
            result: { steps: [{ step: 0, loss: 0.0123, ms: 1.24 }] },
            stepStartsEpochMs: [0],
            stepProcessCpuMs: [0],
            pid: 1,
          }),
        );
        intruder.publish(ctl("hb"), encode({ rank, step: 0 }));
      }
      intruder.publish(
        ctl("abort"),
        encode({ reason: "\x1b[2J\n## phantom-bench: no regression" }),
      );
      intruder.publish(ctl("result"), new TextEncoder().encode(`PB1 x 1 ${"0".repeat(64)}\n{}`));
    };
    intruder.subscribe("pb.>", {
      callback: (_err, msg) => {
        seen.push({ subject: msg.subject, data: msg.data });
        const namespace = msg.subject.split(".")[1];
        if (msg.subject.includes(".ctl.")) {
          if (!attacked.has(namespace)) {
            attacked.add(namespace);
            forge(namespace);
          }
          intruder.publish(msg.subject, msg.data); // replayed as it was
        }
      },
    });
    await intruder.flush();

    const rejected: string[] = [];
    const runId = `probe-${Deno.pid}`;
    const run = await runOverNats(config, {
      connection: server.connection,
      processes: 2,
      runId,
      onRejected: (message) => rejected.push(message),
    });
    await intruder.flush();
    await intruder.close();

    assert(attacked.size === 1, `the intruder saw the run (namespaces ${[...attacked]})`);
    for (const [i, o] of run.outcomes.entries()) {
      const reference = clean.outcomes[i].result;
      assertEquals(o.result.steps.map((s) => s.loss), reference.steps.map((s) => s.loss));
      assertEquals(o.result.evals.map((e) => e.loss), reference.evals.map((e) => e.loss));
    }
    assertEquals(run.outcomes.length, config.ranks);
    // Every kind the intruder touched on the coordinator's side was refused, by name.
    for (const kind of ["result", "hb", "hello"]) {
      assert((run.rejected[kind] ?? 0) > 0, `no ${kind} refused: ${JSON.stringify(run.rejected)}`);
      assert(
        rejected.some((m) => m.includes(`.ctl.${kind}:`)),
        `no line names ctl.${kind}: ${rejected.join(" | ")}`,
      );
    }
    assertEquals(rejected.length, Object.keys(run.rejected).length, "one line per subject");
    assert(
      rejected.every((m) => [...m].every((c) => c.charCodeAt(0) >= 0x20)),
      "no control character reaches a line",
    );
    // Listening taught the intruder nothing about the run's id.
    const text = new TextDecoder();
    assert(seen.length > 0, "the intruder heard the run");
    for (const { subject, data } of seen) {
      assert(!subject.includes(runId), `subject ${subject} names the run`);
      assert(!text.decode(data).includes(runId), `a message on ${subject} names the run`);
    }
    console.log(
      `intruder: ${seen.length} messages heard; refused by the coordinator: ${
        JSON.stringify(run.rejected)
      }`,
    );
  },
});
