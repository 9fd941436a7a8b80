/**
 * A counting semaphore: at most `n` holders at once, the others wait in arrival order. The
 * consumer holds one per forward, because a Worker invocation opens at most six connections
 * at once: a forward started beyond that waits for a connection with its timeout already
 * running, and a slow destination would see it time out (and retried) while it may still
 * arrive.
 */
export type Slots = { acquire(): Promise<() => void> };

export function slots(n: number): Slots {
  let free = n;
  const waiting: (() => void)[] = [];
  return {
    async acquire() {
      if (free > 0) {
        free--;
      } else {
        await new Promise<void>((resolve) => waiting.push(resolve));
      }
      let released = false;
      return () => {
        if (released) {
          return;
        }
        released = true;
        const next = waiting.shift();
        if (next) {
          next();
        } else {
          free++;
        }
      };
    },
  };
}
