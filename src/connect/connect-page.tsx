/**
 * /connect: the page a maintainer uses. Form posts are CSRF-checked (Origin must be the
 * relay's own); the OAuth flow keeps its PKCE verifier and state nonce in a sealed,
 * HttpOnly, ten-minute cookie that the callback consumes once. Errors are pages, never a
 * stack trace; only the maintainer's own request sees them.
 */

import type { Context } from "hono";
import { Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { csrf } from "hono/csrf";
import { secureHeaders } from "hono/secure-headers";
import { z } from "zod";
import type { AppEnv } from "../app-env";
import { readConfig } from "../config";
import { connectDeps } from "../deps";
import { webhookUrlFor } from "../domain/webhook-paths";
import { AppError } from "../errors";
import { timingSafeEqual } from "../lib/crypto";
import { limitAttempts } from "./connect-api";
import { type ConnectReport, connect } from "./connect-flow";
import { locate } from "./connect-target";
import { ConnectForm, DisconnectedPage, ErrorPage, ReportPage, StatusPage } from "./connect-views";
import { auditConnect, auditDisconnect, connectionStatus, statusTicket } from "./connection-status";
import { disconnect } from "./disconnect-flow";
import { authorizeUrl, exchangeCode, oauthApp, pkce, revokeToken } from "./oauth";
import { FLOW_PURPOSE, flowClaims, seal, unseal } from "./sealed-state";

const FLOW_COOKIE = "connect_flow";
const FLOW_TTL_SECONDS = 600;

const form = z.object({
  url: z.string().trim().min(1, "give the project's or group's URL").max(2048),
  action: z.enum(["oauth", "token", "disconnect"]),
  gitlab_token: z.string().trim().max(4096).default(""),
  grant_bot: z.literal("yes").optional(),
});

const callbackQuery = z.union([
  z.object({ code: z.string().min(1).max(2048), state: z.string().min(1).max(512) }),
  z.object({ error: z.string().max(200), state: z.string().max(512).optional() }),
]);

function page(c: Context<AppEnv>, status: 200 | 400, body: ReturnType<typeof ErrorPage>) {
  c.status(status);
  return c.html(body);
}

/** An AppError as a page with its status and headers; anything else goes to the one renderer. */
async function asPage(c: Context<AppEnv>, run: () => Promise<Response>): Promise<Response> {
  try {
    return await run();
  } catch (err) {
    if (!(err instanceof AppError)) {
      throw err;
    }
    for (const [name, value] of Object.entries(err.headers)) {
      c.header(name, value);
    }
    c.status(err.status);
    const title = err.status >= 500 || err.status === 429 ? "Try again shortly" : "Not connected";
    return c.html(<ErrorPage title={title} message={err.message} />);
  }
}

const redirectUri = (c: Context<AppEnv>) => `${new URL(c.req.url).origin}/connect/callback`;
const isHttps = (c: Context<AppEnv>) => new URL(c.req.url).protocol === "https:";

async function showReport(c: Context<AppEnv>, report: ConnectReport) {
  auditConnect(c, report);
  const ticket = await statusTicket(c.env, report.registration_id);
  c.status(201);
  return c.html(<ReportPage report={report} statusPath={`/connect/status/${ticket}`} />);
}

export function createConnectPage(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  // Only the page's own routes: /connect/api is mounted beside it and has its own.
  const pagePaths = ["/", "/callback", "/status/*"];
  const headers = secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'none'"],
      styleSrc: ["'unsafe-inline'"],
      baseUri: ["'none'"],
      frameAncestors: ["'none'"],
    },
    referrerPolicy: "no-referrer",
  });
  for (const path of pagePaths) {
    app.use(path, headers, csrf(), limitAttempts());
  }

  app.get("/", async (c) => {
    const instances = await c.var.repos.instances.list();
    const url = z.string().max(2048).safeParse(c.req.query("url"));
    return c.html(
      <ConnectForm
        instances={instances.map((i) => ({ url: i.url, oauth: i.oauth_client_id !== null }))}
        {...(url.success ? { url: url.data } : {})}
      />,
    );
  });

  app.post("/", (c) =>
    asPage(c, async () => {
      const parsed = form.safeParse(await c.req.parseBody());
      if (!parsed.success) {
        const message = parsed.error.issues.map((i) => i.message).join("; ");
        return page(c, 400, <ErrorPage title="Not connected" message={message} />);
      }
      const input = parsed.data;
      const deps = connectDeps(c.env, c.var.repos, c.var.forgetTokens);
      const webhookUrl = webhookUrlFor(c.req.url);
      if (input.action !== "oauth" && !input.gitlab_token) {
        throw new AppError("validation_failed", "paste an access token, or sign in with GitLab");
      }
      if (input.action === "disconnect") {
        const report = await disconnect(deps, {
          url: input.url,
          credential: input.gitlab_token,
          webhookUrl,
        });
        auditDisconnect(c, report);
        return c.html(<DisconnectedPage report={report} />);
      }
      if (input.action === "token") {
        const report = await connect(deps, {
          url: input.url,
          credential: input.gitlab_token,
          grantBot: input.grant_bot === "yes",
          webhookUrl,
        });
        return showReport(c, report);
      }
      const { instance } = locate(input.url, await c.var.repos.instances.list());
      const app = await oauthApp(readConfig(c.env).ENCRYPTION_KEY, instance);
      if (!app) {
        throw new AppError(
          "bad_request",
          `${instance.url} has no sign-in for this relay yet: paste an access token with the api scope instead`,
        );
      }
      const flow = await pkce();
      const sealed = await seal(
        readConfig(c.env).ENCRYPTION_KEY,
        FLOW_PURPOSE,
        {
          state: flow.state,
          verifier: flow.verifier,
          url: input.url,
          grant_bot: input.grant_bot === "yes",
          instance_id: instance.id,
        },
        FLOW_TTL_SECONDS,
      );
      setCookie(c, FLOW_COOKIE, sealed, {
        httpOnly: true,
        secure: isHttps(c),
        sameSite: "Lax",
        path: "/connect",
        maxAge: FLOW_TTL_SECONDS,
      });
      return c.redirect(authorizeUrl(instance, app, redirectUri(c), flow), 303);
    }),
  );

  app.get("/callback", (c) =>
    asPage(c, async () => {
      const key = readConfig(c.env).ENCRYPTION_KEY;
      const claims = await unseal(key, FLOW_PURPOSE, getCookie(c, FLOW_COOKIE), flowClaims);
      // One use: whatever happens next, this flow is over.
      deleteCookie(c, FLOW_COOKIE, { path: "/connect", secure: isHttps(c) });
      const query = callbackQuery.safeParse(c.req.query());
      if (!claims || !query.success || !timingSafeEqual(query.data.state ?? "", claims.state)) {
        throw new AppError(
          "bad_request",
          "this sign-in is not valid here: it expired, was used already, or did not start on this page. Start again",
        );
      }
      if ("error" in query.data) {
        throw new AppError(
          "bad_request",
          query.data.error === "access_denied"
            ? "you declined the access on GitLab, so nothing was connected"
            : `GitLab ended the sign-in: ${query.data.error}`,
        );
      }
      const instance = await c.var.repos.instances.get(claims.instance_id);
      const app = instance ? await oauthApp(key, instance) : null;
      if (!instance || !app) {
        throw new AppError("bad_request", "the instance's sign-in changed meanwhile; start again");
      }
      const deps = connectDeps(c.env, c.var.repos, c.var.forgetTokens);
      const token = await exchangeCode(deps.fetcher, instance, app, {
        code: query.data.code,
        redirectUri: redirectUri(c),
        verifier: claims.verifier,
      });
      try {
        const report = await connect(deps, {
          url: claims.url,
          credential: token,
          grantBot: claims.grant_bot,
          webhookUrl: webhookUrlFor(c.req.url),
        });
        return await showReport(c, report);
      } finally {
        await revokeToken(deps.fetcher, instance, app, token);
      }
    }),
  );

  app.get("/status/:ticket", (c) =>
    asPage(c, async () => {
      const ticket = c.req.param("ticket");
      const status = await connectionStatus(c, ticket);
      return c.html(<StatusPage status={status} selfPath={`/connect/status/${ticket}`} />);
    }),
  );
  return app;
}
