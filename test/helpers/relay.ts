/** Drives the real Worker (src/index.ts) inside workerd with the test's real bindings. */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import worker from "../../src/index";

export const BASE = "https://relay.test";

export async function call(request: Request, overrides: Partial<Env> = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

export type JsonResponse = { status: number; headers: Headers; body: unknown };

export async function asJson(response: Response): Promise<JsonResponse> {
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text ? JSON.parse(text) : null,
  };
}

/** A queue binding that sends through the real queue and remembers what it sent. */
export function recordingQueue(real: Queue = env.EVENTS_QUEUE) {
  const sent: unknown[] = [];
  const queue: Queue = {
    metrics: () => real.metrics(),
    async send(message, options) {
      const result = await real.send(message, options);
      sent.push(message);
      return result;
    },
    async sendBatch(messages, options) {
      const list = [...messages];
      const result = await real.sendBatch(list, options);
      sent.push(...list.map((m) => m.body));
      return result;
    },
  };
  return { queue, sent };
}

/** Cloudflare Queues refusing work, as it does past 5,000 msg/s or during an incident. */
export function refusingQueue(): Queue {
  const refuse = async (): Promise<never> => {
    throw new Error("Queue send failed: Too Many Requests");
  };
  return { metrics: () => env.EVENTS_QUEUE.metrics(), send: refuse, sendBatch: refuse };
}

/** The real D1 database, except that statements matching `pattern` fail like an outage. */
export function d1FailingOn(pattern: RegExp, real: D1Database = env.DB): D1Database {
  return new Proxy(real, {
    get(target, property, receiver) {
      if (property === "prepare") {
        return (sql: string) => {
          if (pattern.test(sql)) {
            throw new Error("D1_ERROR: Network connection lost.");
          }
          return target.prepare(sql);
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** R2 refusing writes. */
export function refusingBucket(real: R2Bucket = env.BODIES): R2Bucket {
  return new Proxy(real, {
    get(target, property, receiver) {
      if (property === "put") {
        return async () => {
          throw new Error("R2 put failed: We encountered an internal error.");
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** The real D1 database, counting every statement prepared and every batch or exec. */
export function countingD1(real: D1Database = env.DB): { db: D1Database; count: () => number } {
  let count = 0;
  const db = new Proxy(real, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") {
        return value;
      }
      return (...args: unknown[]) => {
        if (property === "prepare" || property === "exec") {
          count++;
        }
        return Reflect.apply(value, target, args);
      };
    },
  });
  return { db, count: () => count };
}
