/**
 * /api/v1: packit-service asks the relay to report to GitLab. Bearer FEEDBACK_TOKEN.
 * Each request is stored in D1 and queued (202 `{"id"}`); `?wait=true` performs it before
 * answering when GitLab is reachable, and falls back to queued when it is not.
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { createApiApp } from "../api-app";
import type { AppEnv } from "../app-env";
import { readConfig } from "../config";
import { feedbackDeps, mergeRequestSource, projectLookup } from "../deps";
import {
  type FeedbackView,
  feedbackView,
  noteInput,
  reactionInput,
  statusInput,
} from "../domain/feedback-requests";
import type { FeedbackMessage } from "../domain/queue-message";
import { AppError, errorFields } from "../errors";
import { sendStored } from "../events/enqueue";
import type { LookupInstance } from "../gitlab/project-lookup";
import { normalizeInstanceUrl } from "../lib/instance-url";
import { log } from "../lib/logger";
import { errorResponses, idParam, json } from "../openapi";
import { requireCoverage } from "./coverage";
import { toView } from "./feedback-view";
import { noteTarget } from "./gitlab-api";
import { processFeedback } from "./process-feedback";
import { type Accepted, type AcceptedInput, resolveRequest } from "./resolve-request";

const security = [{ FeedbackToken: [] }];
const waitQuery = z.object({
  wait: z
    .enum(["true", "false"])
    .optional()
    .openapi({ description: "perform the call before answering (falls back to queued)" }),
});

function orderKey(instanceId: string, accepted: Accepted): string | null {
  if (accepted.type === "status") {
    const r = accepted.request;
    return `status|${instanceId}|${r.project_id}|${r.sha.toLowerCase()}|${r.name}`;
  }
  if (accepted.type === "note" && accepted.request.dedupe_key) {
    const r = accepted.request;
    return `note|${instanceId}|${r.project_id}|${noteTarget(r.target)}|${r.dedupe_key}`;
  }
  return null;
}

/**
 * Every project the request may write to must be covered, fallbacks included; a fork is
 * covered as the source of a covered project's merge request, which GitLab confirms.
 */
async function requireCovered(c: Context<AppEnv>, instance: LookupInstance, accepted: Accepted) {
  const deps = { projects: c.var.repos.projects, lookup: projectLookup(c.env) };
  const request = accepted.request;
  const mrProject =
    accepted.type === "status" ? accepted.request.merge_request_project_id : undefined;
  if (accepted.type !== "status" || mrProject === undefined) {
    await requireCoverage(instance, [request.project_id], deps);
    return;
  }
  await requireCoverage(instance, [mrProject], deps);
  const own = await requireCoverage(instance, [request.project_id], deps).then(
    () => true,
    (err) => {
      if (err instanceof AppError && err.code === "not_found") {
        return false;
      }
      throw err;
    },
  );
  if (own) {
    return;
  }
  // The schema requires the MR's iid with its project.
  const iid = accepted.request.merge_request_iid ?? 0;
  const source = await mergeRequestSource(c.env)(instance, mrProject, iid);
  if (source !== request.project_id) {
    throw new AppError(
      "not_found",
      `project ${request.project_id} is not registered, nor the source of merge request !${iid} of project ${mrProject}`,
    );
  }
}

type Answer =
  | { status: 200; body: FeedbackView }
  | { status: 202; body: FeedbackView | { id: string } };

async function accept(c: Context<AppEnv>, input: AcceptedInput, wait: boolean): Promise<Answer> {
  const config = readConfig(c.env);
  const url = normalizeInstanceUrl(input.request.instance_url, config.ALLOW_HTTP_INSTANCES);
  const instance = url.ok ? await c.var.repos.instances.findByUrl(url.url) : null;
  if (!instance) {
    throw new AppError("not_found", "the instance is not registered");
  }
  const accepted = await resolveRequest(instance, input, projectLookup(c.env));
  await requireCovered(c, instance, accepted);
  const repo = c.var.repos.feedback;
  const id = crypto.randomUUID();
  const now = Date.now();
  const message: FeedbackMessage = { v: 1, type: "gitlab_feedback", feedback_id: id };
  await repo.insert({
    id,
    type: accepted.type,
    instanceId: instance.id,
    projectId: accepted.request.project_id,
    orderKey: orderKey(instance.id, accepted),
    request: JSON.stringify(accepted),
    message: JSON.stringify(message),
    now,
  });
  // Stored with its message (in the inbox): from here on nothing is orphaned. The queue gets
  // it now; when it refuses, the cron sweep sends the inbox row a minute later.
  const handOver = (delaySeconds?: number) =>
    sendStored({ queue: c.env.EVENTS_QUEUE, inbox: c.var.repos.inbox }, id, message, delaySeconds);
  if (!wait) {
    await handOver();
    return { status: 202, body: { id } };
  }
  let decision: Awaited<ReturnType<typeof processFeedback>>;
  try {
    decision = await processFeedback(id, feedbackDeps(c.env));
  } catch (err) {
    // Performing it now failed on our side: it stays queued and is performed from the queue.
    log("error", "feedback could not be performed while waiting; queued instead", {
      feedback_id: id,
      ...errorFields(err),
    });
    await handOver();
    return { status: 202, body: { id } };
  }
  if (decision.action === "retry") {
    await handOver(decision.delaySeconds);
  } else {
    await c.var.repos.inbox.delete([id]).catch(() => undefined);
  }
  const row = await repo.get(id);
  if (row) {
    return decision.action === "ack"
      ? { status: 200, body: toView(row) }
      : { status: 202, body: toView(row) };
  }
  return { status: 202, body: { id } };
}

function respond(c: Context<AppEnv>, answer: Answer) {
  return answer.status === 200 ? c.json(answer.body, 200) : c.json(answer.body, 202);
}

function route<S extends z.ZodType>(path: string, schema: S, summary: string) {
  return createRoute({
    method: "post",
    path: `/gitlab/${path}`,
    security,
    summary,
    request: { query: waitQuery, body: { content: json(schema), required: true } },
    responses: { ...accepted202, ...errorResponses(400, 401, 404, 503) },
  });
}

const accepted202 = {
  202: {
    description: "Queued (or, with wait=true, still in progress)",
    content: json(z.union([z.object({ id: z.string() }), feedbackView])),
  },
  200: { description: "With wait=true: performed; the outcome", content: json(feedbackView) },
};

export function createFeedbackApp(): OpenAPIHono<AppEnv> {
  const api = createApiApp({
    basePath: "/api/v1",
    title: "packit-gitlab-relay feedback API",
    bearer: {
      scheme: "FeedbackToken",
      secretName: "FEEDBACK_TOKEN",
      secretOf: (env) => readConfig(env).FEEDBACK_TOKEN,
    },
  });

  const wait = (c: { req: { query: (k: string) => string | undefined } }) =>
    c.req.query("wait") === "true";
  api.openapi(route("statuses", statusInput, "Set a commit status"), async (c) =>
    respond(c, await accept(c, { type: "status", request: c.req.valid("json") }, wait(c))),
  );
  api.openapi(route("notes", noteInput, "Comment on an MR, an issue or a commit"), async (c) =>
    respond(c, await accept(c, { type: "note", request: c.req.valid("json") }, wait(c))),
  );
  api.openapi(
    route("reactions", reactionInput, "Award an emoji on an MR, an issue or a note"),
    async (c) =>
      respond(c, await accept(c, { type: "reaction", request: c.req.valid("json") }, wait(c))),
  );

  api.openapi(
    createRoute({
      method: "get",
      path: "/feedback/{id}",
      security,
      summary: "The state of a feedback request",
      request: { params: idParam },
      responses: {
        200: { description: "State", content: json(feedbackView) },
        ...errorResponses(401, 404),
      },
    }),
    async (c) => {
      const row = await c.var.repos.feedback.get(c.req.valid("param").id);
      if (!row) {
        throw new AppError("not_found", "no such feedback");
      }
      return c.json(toView(row), 200);
    },
  );
  return api;
}
