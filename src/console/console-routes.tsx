/**
 * /console: what ops look at, over the admin API (called in-process). Every page needs a
 * session (console-session.ts); every form is CSRF-checked twice (the relay's own Origin,
 * and the session's token in the form). Errors are pages.
 */
import { type Context, Hono } from "hono";
import { csrf } from "hono/csrf";
import type { Child } from "hono/jsx";
import { secureHeaders } from "hono/secure-headers";
import { z } from "zod";
import type { AppEnv } from "../app-env";
import { AppError } from "../errors";
import { Layout } from "../pages";
import { ASSETS } from "./assets";
import {
  type AdminApp,
  bulkReplay,
  callAdmin,
  deliveryBody,
  deliveryDetail,
  deliveryPage,
  overview,
} from "./console-data";
import { FeedbackBody, InstancesBody, ProjectsBody } from "./console-lists";
import {
  accessIdentity,
  currentSession,
  endSession,
  matchAdminToken,
  requireCsrf,
  type Session,
  startSession,
} from "./console-session";
import { ConsolePage, DeliveryBody, DeliveryRows, LoginPage, OverviewBody } from "./console-views";

type Env = AppEnv & { Variables: { session: Session } };

const filters = z.object({
  project_id: z.string().regex(/^\d+$/).optional(),
  status: z
    .string()
    .regex(/^[a-z_]+$/)
    .optional(),
  kind: z
    .string()
    .regex(/^[a-z_]+$/)
    .optional(),
  since: z.string().max(40).optional(),
  until: z.string().max(40).optional(),
  cursor: z.string().max(200).optional(),
});

/** The filters as a query string (only those given). */
function toQuery(f: z.infer<typeof filters>): URLSearchParams {
  return new URLSearchParams(Object.entries(f).flatMap(([k, v]) => (v ? [[k, v]] : [])));
}

async function form(c: Context<Env>): Promise<Record<string, string>> {
  const body = await c.req.parseBody();
  return Object.fromEntries(
    Object.entries(body).flatMap(([k, v]) => (typeof v === "string" ? [[k, v]] : [])),
  );
}

export function createConsoleApp(admin: AdminApp): Hono<Env> {
  const app = new Hono<Env>();
  app.use(
    "*",
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", "data:"],
        formAction: ["'self'"],
        baseUri: ["'none'"],
        frameAncestors: ["'none'"],
      },
      referrerPolicy: "no-referrer",
    }),
    csrf(),
  );
  app.onError((err, c) => {
    if (!(err instanceof AppError)) {
      throw err;
    }
    c.status(err.status);
    return c.html(
      <Layout title="Console">
        {
          <p class="bad" role="alert">
            {err.message}
          </p>
        }
      </Layout>,
    );
  });

  app.get("/assets/:name", (c) => {
    const asset = ASSETS[c.req.param("name")];
    if (!asset) {
      throw new AppError("not_found", "no such asset");
    }
    return c.body(asset.body, 200, {
      "content-type": asset.type,
      "cache-control": "public, max-age=3600",
    });
  });

  app.get("/login", (c) => c.html(<LoginPage />));
  app.post("/login", async (c) => {
    const typed = (await form(c)).admin_token ?? "";
    const token = await matchAdminToken(c.env, typed);
    if (!token) {
      const limiter = c.env.AUTH_FAILURES;
      const key = `console:${c.req.header("cf-connecting-ip") ?? "unknown"}`;
      const allowed = limiter ? (await limiter.limit({ key })).success : true;
      c.status(allowed ? 401 : 429);
      return c.html(
        <LoginPage
          message={allowed ? "That is not the admin token." : "Too many attempts: wait a minute."}
        />,
      );
    }
    await startSession(c, "admin", token);
    return c.redirect("/console", 303);
  });

  // Everything below needs a session (or Cloudflare Access, which starts one).
  app.use("*", async (c, next) => {
    let session = await currentSession(c);
    if (!session) {
      const who = await accessIdentity(c);
      session = who ? await startSession(c, who, null) : null;
    }
    if (!session) {
      if (c.req.method === "GET") {
        return c.redirect("/console/login", 303);
      }
      throw new AppError("unauthorized", "sign in first");
    }
    c.set("session", session);
    if (c.req.method === "POST") {
      requireCsrf(session, (await form(c)).csrf);
    }
    return next();
  });

  const page = (c: Context<Env>, title: string, body: Child, scripts?: string[]) =>
    c.html(
      <ConsolePage
        title={title}
        csrf={c.var.session.csrf}
        who={c.var.session.who}
        {...(scripts ? { scripts } : {})}
      >
        {body}
      </ConsolePage>,
    );

  app.post("/logout", (c) => {
    endSession(c);
    return c.redirect("/console/login", 303);
  });

  app.get("/", async (c) => {
    const o = await callAdmin(c, admin, overview, "/overview");
    return page(c, "Overview", <OverviewBody o={o} now={Date.now()} />, [
      "/console/assets/uplot.js",
      "/console/assets/console.js",
    ]);
  });

  app.get("/deliveries", async (c) => {
    const f = filters.parse(c.req.query());
    const query = toQuery(f);
    const list = await callAdmin(c, admin, deliveryPage, `/deliveries?${query}`);
    const next = new URLSearchParams(query);
    if (list.next_cursor) {
      next.set("cursor", list.next_cursor);
    }
    return page(
      c,
      "Deliveries",
      <>
        <h1>Deliveries</h1>
        <form method="get" action="/console/deliveries">
          <label for="f-project">GitLab project id</label>
          <input id="f-project" name="project_id" value={f.project_id ?? ""} inputmode="numeric" />
          <label for="f-status">Status</label>
          <input
            id="f-status"
            name="status"
            value={f.status ?? ""}
            placeholder="dead, rejected, retrying…"
          />
          <label for="f-kind">Kind</label>
          <input
            id="f-kind"
            name="kind"
            value={f.kind ?? ""}
            placeholder="push, merge_request, note…"
          />
          <label for="f-since">Since (ISO 8601)</label>
          <input id="f-since" name="since" value={f.since ?? ""} />
          <button type="submit">Filter</button>
        </form>
        {f.status ? (
          <form method="post" action={`/console/deliveries/replay?${query}`}>
            <input type="hidden" name="csrf" value={c.var.session.csrf} />
            <button type="submit">Replay every {f.status} delivery matching this filter…</button>
          </form>
        ) : null}
        <DeliveryRows rows={list.deliveries} />
        {list.next_cursor ? <a href={`/console/deliveries?${next}`}>Older</a> : null}
      </>,
    );
  });

  app.get("/deliveries/:id", async (c) => {
    const id = encodeURIComponent(c.req.param("id"));
    const [d, body] = await Promise.all([
      callAdmin(c, admin, deliveryDetail, `/deliveries/${id}`),
      callAdmin(c, admin, deliveryBody, `/deliveries/${id}/body`),
    ]);
    return page(
      c,
      "Delivery",
      <DeliveryBody
        d={d}
        body={body}
        csrf={c.var.session.csrf}
        replayed={c.req.query("replayed") === "1"}
      />,
    );
  });

  app.post("/deliveries/:id/replay", async (c) => {
    const id = encodeURIComponent(c.req.param("id"));
    await callAdmin(c, admin, z.unknown(), `/deliveries/${id}/replay`, { method: "POST" });
    return c.redirect(`/console/deliveries/${id}?replayed=1`, 303);
  });

  app.post("/deliveries/replay", async (c) => {
    const f = filters.parse(c.req.query());
    if (!f.status) {
      throw new AppError("validation_failed", "bulk replay needs a status filter");
    }
    const body = {
      status: f.status,
      ...(f.project_id ? { project_id: Number(f.project_id) } : {}),
      ...(f.kind ? { kind: f.kind } : {}),
      ...(f.since ? { since: f.since } : {}),
      ...(f.until ? { until: f.until } : {}),
      limit: 1000,
    };
    const confirmed = (await form(c)).confirm === "yes";
    const result = await callAdmin(c, admin, bulkReplay, "/deliveries/replay", {
      method: "POST",
      body: { ...body, dry_run: !confirmed },
    });
    const query = toQuery(f);
    return page(
      c,
      "Bulk replay",
      confirmed ? (
        <p class="ok" role="status">
          {result.replayed} deliveries queued again; {result.failed} could not be.{" "}
          <a href={`/console/deliveries?${query}`}>Back to the list</a>
        </p>
      ) : (
        <form method="post" action={`/console/deliveries/replay?${query}`}>
          <p>
            This replays <b id="would-replay">{result.would_replay ?? 0}</b> {f.status} deliveries
            (at most 1,000, oldest first).
          </p>
          <input type="hidden" name="csrf" value={c.var.session.csrf} />
          <input type="hidden" name="confirm" value="yes" />
          <button type="submit">Replay them</button>
        </form>
      ),
    );
  });

  app.get("/projects", async (c) => page(c, "Projects", await ProjectsBody({ c, admin })));
  app.get("/instances", async (c) => page(c, "Instances", await InstancesBody({ c, admin })));
  app.get("/feedback", async (c) =>
    page(c, "Failed feedback", await FeedbackBody({ c, admin, csrf: c.var.session.csrf })),
  );
  app.post("/feedback/:id/replay", async (c) => {
    const id = encodeURIComponent(c.req.param("id"));
    await callAdmin(c, admin, z.unknown(), `/feedback/${id}/replay`, { method: "POST" });
    return c.redirect("/console/feedback?replayed=1", 303);
  });
  return app;
}
