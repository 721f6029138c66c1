/**
 * Admission: at most `limit` prediction requests have their bodies read and queued at once; the
 * rest wait paused (their bodies stay in the kernel's socket buffers, and TCP holds back their
 * senders) until one of those finishes. Without it, 1,000 connections that all send a 100 KB JPEG
 * at once made the event loop read, copy and queue 1,000 bodies in one burst, several seconds of
 * back-to-back callbacks in which no timer ran (a 1.3 s event-loop delay, measured), for requests
 * that the model could only answer over the next half minute. Waiting is bounded too: past
 * `maxWaiting` a request is refused at once (503 with Retry-After), as a full session queue is.
 */
/** A refusal: an Error with the HTTP status the server answers with. */
function refusal(status, message) {
  return Object.assign(new Error(message), { status });
}

export class Admission {
  #limit;
  #maxWaiting;
  #admitted = 0;
  #waiting = [];
  #closed = false;
  /** Requests refused because the waiting line was full. */
  refused = 0;

  constructor({ limit, maxWaiting }) {
    if (!(Number.isInteger(limit) && limit >= 1)) throw new RangeError(`admission limit must be an integer >= 1, got ${limit}`);
    this.#limit = limit;
    this.#maxWaiting = maxWaiting;
  }

  /**
   * Resolves once `req` may be read, with a release function to call when it is answered; rejects
   * with an Error whose `status` is 503 when the line is full or the server closes, and 499 when
   * the client goes away while waiting.
   */
  enter(req) {
    if (this.#closed) return Promise.reject(refusal(503, 'the server is shutting down'));
    if (this.#admitted < this.#limit) {
      this.#admitted++;
      return Promise.resolve(this.#releaser());
    }
    if (this.#waiting.length >= this.#maxWaiting) {
      this.refused++;
      return Promise.reject(refusal(503, `the queue is full: ${this.#waiting.length} requests are waiting to be read`));
    }
    req.pause();
    return new Promise((resolve, reject) => {
      const entry = { req, resolve, reject };
      entry.onClose = () => {
        const i = this.#waiting.indexOf(entry);
        if (i >= 0) this.#waiting.splice(i, 1);
        reject(refusal(499, 'the client went away while waiting'));
      };
      req.once('close', entry.onClose);
      this.#waiting.push(entry);
    });
  }

  #releaser() {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.#waiting.shift();
      if (!next) {
        this.#admitted--;
        return;
      }
      // The slot passes straight to the next request: admitted stays the same. Its reader
      // resumes the stream once its 'data' listener is on (resuming first would drop chunks).
      next.req.off('close', next.onClose);
      next.resolve(this.#releaser());
    };
  }

  /** Refuses every waiting request (shutdown); admitted ones finish. */
  close() {
    this.#closed = true;
    for (const w of this.#waiting.splice(0)) {
      w.req.off('close', w.onClose);
      w.reject(refusal(503, 'the server is shutting down'));
    }
  }

  /**
   * Room for n more requests: admitted and waiting together stay within 1.25 x limit, a quarter
   * of the limit waiting to step in as admitted ones finish. intake.mjs holds new connections
   * unread while there is none: their requests could not start for a while anyway.
   */
  hasRoomFor(n) {
    return !this.#closed && this.#admitted + this.#waiting.length + n <= this.#limit + (this.#limit >> 2);
  }

  snapshot() {
    return { limit: this.#limit, admitted: this.#admitted, waiting: this.#waiting.length, refused: this.refused };
  }
}
