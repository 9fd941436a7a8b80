/**
 * The identity rule through the Worker: random registration (project or namespace hook, on
 * one of two instances) × random identity fields in the payload. Ingress answers 202 only
 * when the model says every field agrees, and then the JWT packit-service receives names
 * exactly that project; otherwise nothing is queued.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { webhookMessage } from "../../src/domain/queue-message";
import { registerNamespace, registerProject } from "../helpers/admin";
import { consume } from "../helpers/deliveries";
import { destinations, newScope, received } from "../helpers/doubles";
import { fuzzSeeds } from "../helpers/fuzz-seeds";
import {
  type GrantChoice,
  grantAndSlots,
  INSTANCES,
  model,
  payloadOf,
  UNIVERSE,
} from "../helpers/identity-model";
import { recordingQueue } from "../helpers/relay";
import { sendWebhook } from "../helpers/webhooks";

const tokens = new Map<string, string>();
const keyOf = (g: GrantChoice) =>
  g.kind === "project"
    ? `p|${g.instance}|${g.project}`
    : `n|${g.instance}|${g.namespace.toLowerCase()}`;

beforeAll(async () => {
  for (const [i, instanceUrl] of INSTANCES.entries()) {
    for (const [p, project] of UNIVERSE.entries()) {
      const reg = await registerProject({ instanceUrl, projectId: project.id, path: project.path });
      tokens.set(`p|${i}|${p}`, reg.token);
    }
    for (const namespace of ["team", "team/sub", "other"]) {
      tokens.set(
        `n|${i}|${namespace}`,
        (await registerNamespace({ instanceUrl, namespace })).token,
      );
    }
  }
});

describe("ingress against the identity model", () => {
  it("queues exactly what the model accepts, and packit-service gets a JWT for that project", async () => {
    const seen = { accepted: 0, refused: 0 };
    const seeds = fuzzSeeds(20261125);
    for (const seed of seeds) {
      await fc.assert(
        fc.asyncProperty(grantAndSlots, async ([g, slots]) => {
          const expected = model(g, slots);
          const token = tokens.get(keyOf(g)) ?? "";
          const { queue, sent } = recordingQueue();
          const res = await sendWebhook(
            { token, event: "Push Hook", body: { ...payloadOf(slots), ref: "refs/heads/main" } },
            { EVENTS_QUEUE: queue },
          );
          seen[expected.accept ? "accepted" : "refused"]++;
          if (!expected.accept) {
            expect(sent).toEqual([]);
            if ("ignored" in expected) {
              expect(res.status).toBe(202);
              expect(await res.json()).toMatchObject({ status: "ignored" });
            } else {
              expect(res.status).not.toBe(202);
            }
            return;
          }
          expect(res.status).toBe(202);
          const message = webhookMessage.parse(sent[0]);
          const project = UNIVERSE[expected.project];
          expect(message.instance_url).toBe(INSTANCES[g.instance]);
          expect(message.project.path?.toLowerCase()).toBe(project?.path.toLowerCase());
          const scope = newScope();
          await consume([{ body: message }], destinations(scope));
          for (const request of await received(scope, "/api/webhooks/gitlab")) {
            const [, claims] = (request.headers["x-gitlab-token"] ?? "").split(".");
            const jwt = JSON.parse(atob((claims ?? "").replace(/-/g, "+").replace(/_/g, "/")));
            expect(`${jwt.namespace}/${jwt.repo_name}`.toLowerCase()).toBe(
              project?.path.toLowerCase(),
            );
          }
        }),
        { seed, numRuns: 150 },
      );
    }
    // Both sides of the rule were exercised, not just refusals (per seed: FUZZ_SEED replays one).
    expect(seen.accepted).toBeGreaterThan(20 * seeds.length);
    expect(seen.refused).toBeGreaterThan(20 * seeds.length);
  }, 60_000); // hundreds of requests on a shared two-core machine
});
