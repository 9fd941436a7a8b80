/**
 * The GitLab REST calls the relay makes, and what their answers mean (reference/gitlab.md
 * §3). Building and classifying are pure; `callGitlab` is the one place that fetches.
 */
import { z } from "zod";
import type { NoteRequest, ReactionRequest, StatusRequest } from "../domain/feedback-requests";
import { parseRetryAfter } from "../lib/backoff";
import { truncate } from "../lib/text";
import { USER_AGENT } from "../version";

export const GITLAB_TIMEOUT_MS = 15_000;
const DESCRIPTION_LIMIT = 255;

export type GitlabCall = { method: "POST" | "PUT"; path: string; body: Record<string, unknown> };

const enc = (value: string | number) => encodeURIComponent(String(value));

/** packit's states to GitLab's: GitLab has no error or neutral. */
export function gitlabState(state: StatusRequest["state"]): string {
  return state === "error" || state === "neutral" || state === "failure" ? "failed" : state;
}

/** States GitLab never changes again; packit comments only these when it cannot set them. */
export function isFinalState(state: StatusRequest["state"]): boolean {
  return !["pending", "running"].includes(gitlabState(state));
}

/** packit's own fallback for a refused status: a commit comment listing name, state, link. */
export function fallbackCommitCommentBody(request: StatusRequest): string {
  const url = request.target_url ? `\n- url: ${request.target_url}` : "";
  const description = request.description
    ? `\n\n${inertMarkdown(trimDescription(request.description) ?? "")}`
    : "";
  return `- name: ${inertMarkdown(request.name)}\n- state: ${gitlabState(request.state)}${url}${description}`;
}

export function trimDescription(text: string | undefined): string | undefined {
  if (text === undefined) {
    return undefined;
  }
  const chars = [...text];
  return chars.length <= DESCRIPTION_LIMIT
    ? text
    : `${chars.slice(0, DESCRIPTION_LIMIT - 1).join("")}…`;
}

export function statusCall(request: StatusRequest): GitlabCall {
  const description = trimDescription(request.description);
  return {
    method: "POST",
    path: `/projects/${enc(request.project_id)}/statuses/${enc(request.sha)}`,
    body: {
      state: gitlabState(request.state),
      ref: request.ref,
      name: request.name,
      ...(request.target_url ? { target_url: request.target_url } : {}),
      ...(description !== undefined ? { description } : {}),
    },
  };
}

/**
 * Quick actions (`/merge`, `/close`, `/approve`, ...) run when a line starts with `/`.
 * A backslash in front renders the same slash but is no longer a command.
 */
export function neutralizeQuickActions(body: string): string {
  return body.replace(/^([ \t]*)\//gm, "$1\\/");
}

export function noteTarget(target: NoteRequest["target"]): string {
  return target.type === "commit" ? `commit:${target.sha}` : `${target.type}:${target.iid}`;
}

function issuablePath(projectId: number, target: { type: "merge_request" | "issue"; iid: number }) {
  const kind = target.type === "merge_request" ? "merge_requests" : "issues";
  return `/projects/${enc(projectId)}/${kind}/${enc(target.iid)}`;
}

export function noteCall(request: NoteRequest, existingNoteId: number | null): GitlabCall {
  const body = neutralizeBroadMentions(neutralizeQuickActions(request.body));
  const target = request.target;
  if (target.type === "commit") {
    return {
      method: "POST",
      path: `/projects/${enc(request.project_id)}/repository/commits/${enc(target.sha)}/comments`,
      body: { note: body },
    };
  }
  const notes = `${issuablePath(request.project_id, target)}/notes`;
  if (existingNoteId !== null) {
    return { method: "PUT", path: `${notes}/${enc(existingNoteId)}`, body: { body } };
  }
  return {
    method: "POST",
    path: notes,
    body: { body, ...(request.internal ? { internal: true } : {}) },
  };
}

export function reactionCall(request: ReactionRequest): GitlabCall {
  const base = issuablePath(request.project_id, request.target);
  const on =
    request.target.note_id === undefined ? base : `${base}/notes/${enc(request.target.note_id)}`;
  return { method: "POST", path: `${on}/award_emoji`, body: { name: request.name } };
}

/**
 * Mentions that notify many people (`@all`) become inert: a zero-width space after the `@`
 * renders the same text without the mention.
 */
export function neutralizeBroadMentions(body: string): string {
  return body.replace(/(^|[^\w])@(all|here)\b/gi, "$1@\u200b$2");
}

/**
 * Text from a status request shown inside markdown: one line (so no heading, list or quick
 * action), with every character that opens a link, image, HTML, code or a GitLab reference
 * (`#1`, `!1`, `~label`, `%milestone`, `&epic`) escaped, and no mention of anyone. Plain
 * names like `rpm-build:fedora-rawhide-x86_64` stay as they are.
 */
export function inertMarkdown(text: string): string {
  return text
    .replace(/[\r\n\t\v\f]+/g, " ")
    .replace(/[\\`[\]()<>!#~|%&*]/g, (ch) => `\\${ch}`)
    .replace(/@/g, "@\u200b");
}

/** The compact MR note that stands in for a status GitLab would not take (forks). */
export function fallbackNoteBody(request: StatusRequest): string {
  // target_url is validated to hold no character that could leave the link.
  const link = request.target_url ? ` ([details](${request.target_url}))` : "";
  const description = request.description
    ? ` ${inertMarkdown(trimDescription(request.description) ?? "")}`
    : "";
  return `**${inertMarkdown(request.name)}**: \`${gitlabState(request.state)}\`${description}${link}\n\n_Commit ${request.sha.slice(0, 12)}. Posted as a comment: the relay may not set statuses on this project._`;
}

export type GitlabAnswer = {
  status: number | null;
  body: unknown;
  text: string;
  retryAfter: number | null;
  rateLimitReset: number | null;
  error: string | null;
};

export async function callGitlab(input: {
  instanceUrl: string;
  token: string;
  call: GitlabCall;
  /** X-Gitlab-Event-UUID of the event that caused the call, for GitLab's loop guard. */
  eventUuid: string | undefined;
  fetcher: typeof fetch;
  now: () => number;
}): Promise<GitlabAnswer> {
  const { instanceUrl, token, call, eventUuid, fetcher, now } = input;
  const headers: Record<string, string> = {
    "PRIVATE-TOKEN": token,
    "content-type": "application/json",
    accept: "application/json",
    "user-agent": USER_AGENT,
  };
  if (eventUuid) {
    // GitLab's loop guard: hooks fired by this call join the originating event's chain.
    headers["X-Gitlab-Event-UUID"] = eventUuid;
  }
  try {
    const response = await fetcher(`${instanceUrl}/api/v4${call.path}`, {
      method: call.method,
      headers,
      body: JSON.stringify(call.body),
      redirect: "manual",
      signal: AbortSignal.timeout(GITLAB_TIMEOUT_MS),
    });
    const text = await response.text().catch(() => "");
    let body: unknown = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    const reset = response.headers.get("ratelimit-reset");
    return {
      status: response.status,
      body,
      text: truncate(text),
      retryAfter: parseRetryAfter(response.headers.get("retry-after"), now()),
      rateLimitReset: reset && /^\d+$/.test(reset) ? Number(reset) * 1000 : null,
      error: null,
    };
  } catch (err) {
    return {
      status: null,
      body: null,
      text: "",
      retryAfter: null,
      rateLimitReset: null,
      error: truncate(String(err)),
    };
  }
}

/** Created objects carry an id; a commit comment is the one that does not. */
const created = z.union([
  z.object({ id: z.number().int() }),
  z.object({ note: z.string() }).transform(() => ({ id: null })),
]);
const message = z.object({ message: z.unknown() });

function messageText(body: unknown): string {
  const parsed = message.safeParse(body);
  return parsed.success ? JSON.stringify(parsed.data.message) : "";
}

export type Classified =
  | { kind: "done"; gitlabId: number | null }
  | { kind: "lock_contention" }
  | { kind: "rate_limited" }
  | { kind: "transient"; retryAfter: number | null }
  | { kind: "unauthorized" }
  | { kind: "forbidden_or_missing" }
  | { kind: "permanent" }
  | { kind: "unexpected" };

/** What a GitLab answer means for the call `type` that got it. */
export function classify(type: "status" | "note" | "reaction", answer: GitlabAnswer): Classified {
  const { status, body } = answer;
  if (status === null) {
    return { kind: "transient", retryAfter: null };
  }
  if (status >= 200 && status < 300) {
    const parsed = created.safeParse(body);
    return parsed.success ? { kind: "done", gitlabId: parsed.data.id } : { kind: "unexpected" };
  }
  if (
    type === "status" &&
    status === 400 &&
    messageText(body).includes("Cannot transition status via")
  ) {
    return { kind: "done", gitlabId: null }; // the status already holds
  }
  if (
    type === "reaction" &&
    status === 404 &&
    messageText(body).includes("has already been taken")
  ) {
    return { kind: "done", gitlabId: null };
  }
  if (status === 409 && type === "status") {
    return { kind: "lock_contention" };
  }
  if (status === 429) {
    return { kind: "rate_limited" };
  }
  if (status >= 500 || status === 408) {
    return { kind: "transient", retryAfter: answer.retryAfter };
  }
  if (status === 401) {
    return { kind: "unauthorized" };
  }
  if (status === 403 || status === 404) {
    return { kind: "forbidden_or_missing" };
  }
  return { kind: "permanent" };
}

/** When a rate-limited instance may be called again: Retry-After, else RateLimit-Reset, else ~60 s. */
export function resumeAt(answer: GitlabAnswer, now: number, random: () => number): number {
  if (answer.retryAfter !== null) {
    return now + answer.retryAfter * 1000;
  }
  if (answer.rateLimitReset !== null && answer.rateLimitReset > now) {
    return answer.rateLimitReset;
  }
  return now + 60_000 + Math.floor(random() * 15_000);
}
