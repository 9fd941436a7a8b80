/**
 * The instance's bot user (the user behind its API token) posts statuses and comments for
 * packit-service; GitLab lets it set commit statuses only with the Developer role. Connect
 * reports whether the bot has that role and, when asked, grants it with the maintainer's
 * credential. A group membership covers every project below it.
 */
import { AppError } from "../errors";
import { accessLevel, currentUser, DEVELOPER, roleName, type Target } from "./connect-target";
import type { GitlabSession } from "./gitlab-session";
import { messageOf } from "./gitlab-session";

export type BotAccess = { state: "present" | "granted" | "missing" | "unknown"; detail: string };

export async function botAccess(options: {
  maintainer: GitlabSession;
  bot: GitlabSession | null;
  target: Target;
  grant: boolean;
}): Promise<BotAccess> {
  const { maintainer, bot, target, grant } = options;
  if (!bot) {
    return {
      state: "unknown",
      detail: "the instance has no API token, so the relay has no bot user to post feedback",
    };
  }
  let botUser: Awaited<ReturnType<typeof currentUser>>;
  try {
    botUser = await currentUser(bot);
  } catch (err) {
    if (err instanceof AppError && err.status === 401) {
      return { state: "unknown", detail: err.message };
    }
    throw err;
  }
  const level = await accessLevel(maintainer, target, botUser.id);
  if (level >= DEVELOPER) {
    return { state: "present", detail: `@${botUser.username} is ${roleName(level)}` };
  }
  if (!grant) {
    return {
      state: "missing",
      detail: `@${botUser.username} is ${roleName(level)}: without Developer it cannot set commit statuses (packit falls back to comments)`,
    };
  }
  const path = `/${target.kind === "project" ? "projects" : "groups"}/${target.id}/members`;
  const reply = await maintainer.call("POST", path, {
    user_id: botUser.id,
    access_level: DEVELOPER,
  });
  // 409: already a direct member with a lower role; raise it instead.
  const raised =
    reply.status === 409
      ? await maintainer.call("PUT", `${path}/${botUser.id}`, { access_level: DEVELOPER })
      : reply;
  if (raised.status === 201 || raised.status === 200) {
    return { state: "granted", detail: `@${botUser.username} is now Developer` };
  }
  return {
    state: "missing",
    detail: `adding @${botUser.username} as Developer failed: ${messageOf(raised)}`,
  };
}
