/**
 * Several hosts on one machine: Linux network namespaces, each with its own address (from
 * 198.18.0.0/15, reserved for network benchmarking), host name and port space, linked by veth
 * pairs to a bridge that lives in a namespace of its own (nothing is added to the root namespace,
 * and there is no route out). Each link can be shaped in both directions (htb or tbf) to a rate.
 * Processes are started "on" a host with its network and UTS namespaces (nsenter + unshare, not
 * `ip netns exec`, which remounts /sys without the cgroup tree that slurmd needs), recorded by pid
 * and stopped by pid; namespaces are deleted by name. Names carry a prefix and the owner's pid, so
 * leftovers of a killed run are found and removed by {@linkcode removeLeftoverHosts}.
 *
 * Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN), iproute2 and util-linux: {@linkcode netnsUnavailable}
 * says in one line why not.
 *
 * @module
 */

import { isAlive, processStartMs, stopProcess } from "./process.ts";

/** Prefix of every namespace this module makes: `pbns<owner pid>-…`. */
export const NETNS_PREFIX = "pbns";

/** How a link is shaped. */
export interface LinkShape {
  /** Rate in tc's notation (e.g. "100mbit", "1gbit"); null: unshaped. */
  rate: string | null;
  /** The qdisc: htb (one class, rate = ceil) or tbf (burst 256 KiB: veth GSO packets reach 64 KiB). */
  shaper?: "htb" | "tbf";
  /**
   * Propagation delay each way of the link, in tc's notation (e.g. "2ms"): netem (`delay D rate
   * R`) replaces the shaper; host to host a packet crosses two links (2 D one way). Needs
   * sch_netem ({@linkcode netemAvailable}). @default null: none
   */
  delay?: string | null;
}

/** Options of {@linkcode startHosts}. */
export interface HostsOptions {
  /** Hosts, 2 to 8. */
  count: number;
  /** Shape of every host's link (both directions). @default unshaped */
  link?: LinkShape;
  /** Distinguishes several sets of one owner. @default "a" */
  tag?: string;
}

/** A host: its namespace, address and name. */
export interface NetnsHost {
  /** Index, from 0. */
  index: number;
  /** Namespace name (also its host name). */
  name: string;
  /** IPv4 address. */
  address: string;
}

/** A process started on a host. */
export interface HostProcess {
  /** The child (nsenter execs into unshare, which execs the command: one pid). */
  child: Deno.ChildProcess;
  /** Its pid. */
  pid: number;
}

/** Running hosts. */
export interface NetnsHosts extends AsyncDisposable {
  /** The hosts. */
  readonly hosts: NetnsHost[];
  /** The bridge's namespace. */
  readonly bridge: string;
  /** How the links are shaped now. */
  readonly link: Required<LinkShape>;
  /** How long setting up took, in ms. */
  readonly setupMs: number;
  /**
   * Starts a command on a host (its network and host name).
   *
   * @param host The host's index.
   * @param command The executable.
   * @param options Arguments, environment, stdio (as Deno.Command's).
   * @returns The process, recorded for {@linkcode stop}.
   */
  spawn(host: number, command: string, options?: Deno.CommandOptions): HostProcess;
  /**
   * Shapes every link anew (both directions), e.g. between the points of a sweep over link rates.
   *
   * @param link The new shape (rate null: unshaped).
   */
  shape(link: LinkShape): Promise<void>;
  /** Every pid started here that still runs. */
  running(): number[];
  /** Stops every process (TERM, then KILL), deletes the namespaces. Idempotent. */
  stop(): Promise<void>;
}

async function run(command: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(
      `${command} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim() || out.code}`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}

/** A random suffix for a probe's namespace name. */
const probeSuffix = () => crypto.randomUUID().slice(0, 8);

/**
 * @returns Why namespace hosts cannot be made here (one line), or undefined when they can.
 */
export function netnsUnavailable(): string | undefined {
  if (Deno.build.os !== "linux") return "network namespaces are Linux only";
  if (Deno.uid() !== 0) return "making network namespaces needs root";
  for (const tool of ["ip", "nsenter", "unshare", "tc"]) {
    try {
      new Deno.Command(tool, { args: ["-V"], stdout: "null", stderr: "null" }).outputSync();
    } catch {
      return `${tool} is missing (apt-get install iproute2 util-linux)`;
    }
  }
  try {
    // Unique per call: tests running in parallel in one process probe at once.
    const name = `${NETNS_PREFIX}${Deno.pid}-probe-${probeSuffix()}`;
    const add = new Deno.Command("ip", { args: ["netns", "add", name], stderr: "piped" })
      .outputSync();
    if (!add.success) {
      return `ip netns add failed: ${new TextDecoder().decode(add.stderr).trim()}`;
    }
    new Deno.Command("ip", { args: ["netns", "delete", name] }).outputSync();
  } catch (error) {
    return `ip netns add failed: ${(error as Error).message}`;
  }
  return undefined;
}

/**
 * Deletes the namespaces of this module whose owner is gone or whose owner pid was reused since
 * (see {@linkcode isLeftover}); processes in them are killed. A running owner's hosts, this
 * process's included, are left alone.
 *
 * @returns The names deleted.
 */
export async function removeLeftoverHosts(): Promise<string[]> {
  const names = (await run("ip", ["netns", "list"])).split("\n")
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((n) => n?.startsWith(NETNS_PREFIX));
  const removed: string[] = [];
  for (const name of names) {
    const owner = Number(name.slice(NETNS_PREFIX.length).split("-")[0]);
    const alive = Number.isInteger(owner) && isAlive(owner);
    let created: number | undefined;
    try {
      created = Deno.statSync(`/run/netns/${name}`).mtime?.getTime();
    } catch { /* gone meanwhile, or another layout: go by the owner alone */ }
    if (!isLeftover(alive, alive ? processStartMs(owner) : undefined, created)) continue;
    await deleteNamespace(name);
    removed.push(name);
  }
  return removed;
}

/**
 * Whether a namespace named for an owner pid is a leftover: its owner is gone, or the pid now
 * belongs to a process that started after the namespace was made (a reused pid). A live owner's
 * namespaces are never leftovers, this process's included: tests running in parallel in one
 * process each hold hosts of the same pid.
 *
 * @param ownerAlive Whether the owner pid runs.
 * @param ownerStartMs When the process with that pid started (never later than the truth), if known.
 * @param createdMs When the namespace was made, if known.
 * @returns True to remove it.
 */
export function isLeftover(
  ownerAlive: boolean,
  ownerStartMs: number | undefined,
  createdMs: number | undefined,
): boolean {
  if (!ownerAlive) return true;
  return ownerStartMs !== undefined && createdMs !== undefined && createdMs < ownerStartMs;
}

async function deleteNamespace(name: string): Promise<void> {
  // Processes still in it (a killed owner's) go first: a namespace is gone with its last user.
  const pids = await run("ip", ["netns", "pids", name]).catch(() => "");
  for (const pid of pids.split("\n").map(Number).filter((p) => p > 0)) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* gone */ }
  }
  await run("ip", ["netns", "delete", name]).catch(() => {});
}

/**
 * Makes the hosts: a bridge namespace, a namespace per host with a veth to the bridge, addresses
 * 198.18.T.1..N/24 (T from the tag), links shaped as asked.
 *
 * @param options Count, link shape, tag.
 * @returns The running hosts.
 * @throws {Error} If a command fails (everything made so far is removed first).
 */
export async function startHosts(options: HostsOptions): Promise<NetnsHosts> {
  const started = performance.now();
  const { count } = options;
  if (!Number.isInteger(count) || count < 2 || count > 8) {
    throw new RangeError(`hosts must be 2 to 8 (got ${count})`);
  }
  let link = linkShape(options.link);
  const tag = options.tag ?? "a";
  if (!/^[a-z0-9]{1,4}$/.test(tag)) throw new RangeError(`tag must be 1-4 of a-z0-9 (got ${tag})`);
  const base = `${NETNS_PREFIX}${Deno.pid}-${tag}`;
  const bridge = `${base}-br`;
  // A /24 per tag: tags of one owner never share addresses.
  const third = [...tag].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 250, 7);
  const hosts: NetnsHost[] = Array.from({ length: count }, (_, i) => ({
    index: i,
    name: `${base}-h${i}`,
    address: `198.18.${third}.${i + 1}`,
  }));
  const made: string[] = [];
  const processes: HostProcess[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(processes.map((p) => stopProcess(p.child, 2000).catch(() => {})));
    for (const name of [...made].reverse()) await deleteNamespace(name);
  };
  const inNs = (ns: string, ...args: string[]) => run("ip", ["-n", ns, ...args]);
  try {
    await run("ip", ["netns", "add", bridge]);
    made.push(bridge);
    await inNs(bridge, "link", "add", "br0", "type", "bridge");
    await inNs(bridge, "link", "set", "br0", "up");
    await inNs(bridge, "link", "set", "lo", "up");
    for (const h of hosts) {
      await run("ip", ["netns", "add", h.name]);
      made.push(h.name);
      const port = `p${h.index}`;
      await run("ip", [
        "link",
        "add",
        "name",
        "eth0",
        "netns",
        h.name,
        "type",
        "veth",
        "peer",
        "name",
        port,
        "netns",
        bridge,
      ]);
      await inNs(bridge, "link", "set", port, "master", "br0");
      await inNs(bridge, "link", "set", port, "up");
      await inNs(h.name, "addr", "add", `${h.address}/24`, "dev", "eth0");
      await inNs(h.name, "link", "set", "eth0", "up");
      await inNs(h.name, "link", "set", "lo", "up");
    }
    await reshapeLinks({ bridge, hosts: hosts.map((h) => h.name) }, link);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    hosts,
    bridge,
    get link() {
      return link;
    },
    async shape(next) {
      link = linkShape({
        rate: next.rate,
        shaper: next.shaper ?? link.shaper,
        delay: next.delay === undefined ? link.delay : next.delay,
      });
      await reshapeLinks({ bridge, hosts: hosts.map((h) => h.name) }, link);
    },
    setupMs: performance.now() - started,
    spawn(host, command, spawnOptions = {}) {
      const h = hosts[host];
      if (!h) throw new RangeError(`no host ${host} (of ${hosts.length})`);
      const child = new Deno.Command("nsenter", {
        ...spawnOptions,
        args: [
          `--net=/run/netns/${h.name}`,
          "unshare",
          "--uts",
          "sh",
          "-c",
          `hostname ${h.name} && exec "$@"`,
          "sh",
          command,
          ...(spawnOptions.args ?? []),
        ],
      }).spawn();
      processes.push({ child, pid: child.pid });
      return { child, pid: child.pid };
    },
    running: () => processes.map((p) => p.pid).filter(isAlive),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** The namespaces whose links {@linkcode reshapeLinks} shapes: host i's eth0 meets port p<i>. */
export interface LinkNames {
  /** The bridge's namespace. */
  bridge: string;
  /** The hosts' namespaces, by index. */
  hosts: string[];
}

function linkShape(link: LinkShape | undefined): Required<LinkShape> {
  const shaped: Required<LinkShape> = {
    rate: link?.rate ?? null,
    shaper: link?.shaper ?? "htb",
    delay: link?.delay ?? null,
  };
  if (shaped.delay !== null && !LINK_DELAY.test(shaped.delay)) {
    throw new RangeError(`link delay must look like 2ms or 500us (got ${shaped.delay})`);
  }
  // lib/config/link_rate.ts's LINK_RATE (a layer this module cannot import): tc's notation.
  if (shaped.rate !== null && !/^\d+(\.\d+)?[kmg]?bit$/.test(shaped.rate)) {
    throw new RangeError(`link rate must look like 100mbit or 1gbit (got ${shaped.rate})`);
  }
  return shaped;
}

/** A delay in tc's notation, as this module takes it: 500us, 2ms, 1.5ms, 1s. */
export const LINK_DELAY = /^\d+(\.\d+)?(us|ms|s)$/;

let netem: boolean | undefined;

/**
 * Whether this kernel has sch_netem (propagation delay); many minimal kernels have only htb, tbf
 * and a few more. Probed once, on the loopback of a namespace of its own (root only).
 *
 * @returns True where netem qdiscs can be made.
 */
export function netemAvailable(): boolean {
  if (netem !== undefined) return netem;
  const name = `${NETNS_PREFIX}${Deno.pid}-netem-${probeSuffix()}`;
  const sh = (args: string[]) => {
    try {
      return new Deno.Command(args[0], { args: args.slice(1), stdout: "null", stderr: "null" })
        .outputSync().success;
    } catch {
      return false;
    }
  };
  if (!sh(["ip", "netns", "add", name])) return (netem = false);
  netem = sh(["tc", "-n", name, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"]);
  sh(["ip", "netns", "delete", name]);
  return netem;
}

/**
 * Shapes every link of a set of hosts anew, both directions (the host's side shapes what it
 * sends, the bridge port what it receives): the old qdiscs go, then the new ones (none for an
 * unshaped link). Works from any network namespace (tc -n), so a bench on one of the hosts can
 * change its own network between points.
 *
 * @param names The namespaces.
 * @param link The shape.
 * @throws {Error} If tc fails.
 */
export async function reshapeLinks(names: LinkNames, link: LinkShape): Promise<void> {
  const shaped = linkShape(link);
  await Promise.all(names.hosts.map(async (host, i) => {
    for (const [ns, dev] of [[host, "eth0"], [names.bridge, `p${i}`]]) {
      // No qdisc yet ("Cannot delete qdisc with handle of zero"): nothing to remove.
      await run("tc", ["-n", ns, "qdisc", "del", "dev", dev, "root"]).catch(() => {});
      if (shaped.rate || shaped.delay) await shape(ns, dev, shaped);
    }
  }));
}

async function shape(ns: string, dev: string, link: Required<LinkShape>): Promise<void> {
  const tc = (...args: string[]) => run("tc", ["-n", ns, ...args]);
  const root = (...qdisc: string[]) => tc("qdisc", "add", "dev", dev, "root", ...qdisc);
  if (link.delay) {
    // netem delays and, given a rate, also limits it; a queue long enough for a full window.
    const rate = link.rate ? ["rate", link.rate] : [];
    await root("netem", "delay", link.delay, ...rate, "limit", "100000");
  } else if (link.shaper === "tbf") {
    await root("tbf", "rate", link.rate!, "burst", "256kb", "latency", "50ms");
  } else {
    await root("handle", "1:", "htb", "default", "10");
    const rate = ["rate", link.rate!, "ceil", link.rate!];
    await tc("class", "add", "dev", dev, "parent", "1:", "classid", "1:10", "htb", ...rate);
  }
}
