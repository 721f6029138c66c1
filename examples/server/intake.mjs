/**
 * Paced intake of new connections: at most `window` newly accepted sockets are between being
 * handed to the HTTP server and having their first request parsed; the rest wait, unread, in
 * the order they came.
 *
 * Why: libuv accepts every pending connection in one callback and node:http then reads and
 * parses each one's headers and first body chunk in the same poll phase. When a load client
 * opens its 1,000 connections, about 500 arrive within a few hundred milliseconds, and that
 * burst was one stretch of 250-460 ms in which no timer ran (a probe in bench/serve/load.mjs
 * runs: 430-490 accepts and 100-400 request parses inside each stall, the largest event-loop
 * delay of every AlexNet run). A bound per turn was not enough: turns are short when the loop
 * is idle, so 16 turns in a row handed over 256 sockets whose requests one poll phase then read
 * together (170-250 ms). A window of 4 read event-loop p99s of 22-24 ms against 26-27 at 16
 * (AlexNet, batching on, two runs each in turns). A waiting socket costs almost nothing: it was accepted (no refusal, no
 * backlog overflow) and not read, so its request stays in the kernel's buffer.
 *
 * Held while the server is full (`canTake` false: admission.mjs's line is long): a request the
 * model cannot start for seconds would only be parsed, its first 64 KB read into fresh memory
 * (perf: much of a stall was the kernel zeroing pages for those reads), and made to wait. A
 * request finishing calls kick(). So health checks and metrics, which must answer at once, have
 * their own listener (server.mjs --admin-port), as Triton serves metrics on a port of its own.
 *
 * How: the server accepts paused (net.Server's pauseOnConnect, read at each accept), its
 * 'connection' listeners (node:http's, which sets up the parser, and any added before) are
 * taken off and called here instead, with the socket resumed after them. node:http documents
 * emitting 'connection' yourself to hand it sockets; this calls its listener the same way.
 */

/** A handed socket that sends nothing this long stops counting against the window. */
const SILENT_MS = 100;

/**
 * canTake(unparsed): whether the server has room for more requests, given `unparsed` sockets
 * already handed over whose requests have not been parsed yet. maxHeld: past this many held,
 * sockets are handed over anyway (their requests are better refused with a 503 than held).
 */
export function paceIntake(server, { window = 4, canTake = () => true, maxHeld = 4096 } = {}) {
  if (!(Number.isInteger(window) && window >= 1)) throw new RangeError(`window must be an integer >= 1, got ${window}`);
  const listeners = server.listeners('connection');
  if (listeners.length === 0) throw new Error("paceIntake: the server has no 'connection' listener (not a node:http server?)");
  for (const l of listeners) server.removeListener('connection', l);
  server.pauseOnConnect = true;
  const held = [];
  let head = 0;
  let scheduled = false;
  let open = false; // after openAll(): every socket goes through, room or not
  let unparsed = 0;
  const stats = { accepted: 0, maxHeld: 0, handed: 0, requeued: 0 };
  const heldCount = () => held.length - head;
  const mayHand = () => (unparsed < window && (open || canTake(unparsed))) || heldCount() > maxHeld;

  // The socket's first request was parsed, it closed, or it stayed silent: its place is free.
  function settle(socket) {
    if (!socket.intakePending) return;
    socket.intakePending = false;
    clearTimeout(socket.intakeTimer);
    unparsed--;
    schedule();
  }
  server.on('request', (req) => settle(req.socket));

  function hand(socket) {
    socket.intakePending = true;
    unparsed++;
    stats.handed++;
    // A client that connects and sends nothing must not hold the window (slowloris).
    socket.intakeTimer = setTimeout(() => settle(socket), SILENT_MS).unref();
    if (!socket.intakeKnown) {
      socket.intakeKnown = true;
      socket.once('close', () => settle(socket));
      for (const l of listeners) l.call(server, socket);
    }
    socket.resume();
  }

  function drain() {
    scheduled = false;
    while (head < held.length && mayHand()) {
      const socket = held[head++];
      // A client that gave up while held: nothing to parse.
      if (!socket.destroyed) hand(socket);
    }
    if (head === held.length) {
      held.length = 0;
      head = 0;
    } else if (head > 1024) {
      held.splice(0, head);
      head = 0;
    }
  }

  // From a setImmediate turn, not inline: the caller may be node:http's own callbacks.
  function schedule() {
    if (scheduled || head === held.length) return;
    scheduled = true;
    setImmediate(drain);
  }

  server.on('connection', (socket) => {
    stats.accepted++;
    held.push(socket);
    stats.maxHeld = Math.max(stats.maxHeld, heldCount());
    schedule();
  });

  return {
    /**
     * A kept-alive connection whose request was just answered goes to the back of the line, paused,
     * when others are held: it would otherwise send its next request at once and take the room
     * that held connections wait for (measured: 232 of 1,000 connections were ever served, the
     * rest held for the whole run). Round robin over connections, as a FIFO of requests.
     */
    requeue(socket) {
      if (open || socket.destroyed || (heldCount() === 0 && canTake(unparsed))) return;
      socket.pause();
      stats.requeued++;
      held.push(socket);
      stats.maxHeld = Math.max(stats.maxHeld, heldCount());
      schedule();
    },
    /** Call when room may have appeared (a request finished): hands over the next held sockets. */
    kick: schedule,
    /** Hands over every held socket from now on (shutdown: their requests get a prompt 503). */
    openAll() {
      open = true;
      schedule();
    },
    /** Sockets accepted and not yet handed to the HTTP server. */
    get held() {
      return heldCount();
    },
    snapshot: () => ({ ...stats, held: heldCount(), unparsed, window }),
  };
}
