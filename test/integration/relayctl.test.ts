import { describe, expect, it } from "vitest";
import { type CliIo, relayctl } from "../../cli/relayctl";
import { field } from "../helpers/admin";
import {
  DEVELOPER_TOKEN,
  deliverHookTests,
  gitlabWorld,
  MAINTAINER_TOKEN,
  worldOf,
} from "../helpers/connect";
import { consume, ingest } from "../helpers/deliveries";
import { destinations, newScope } from "../helpers/doubles";
import { mergeRequest, push } from "../helpers/gitlab-payloads";
import { BASE, call } from "../helpers/relay";

/** Runs relayctl against the Worker in workerd, as an operator would against a deployment. */
async function cli(
  args: string[],
  opts: {
    files?: Record<string, string>;
    confirm?: boolean;
    env?: Partial<CliIo["env"]>;
    sleep?: () => Promise<unknown>;
  } = {},
) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await relayctl(args, {
    fetch: (request) => call(request),
    env: { RELAY_URL: BASE, ADMIN_TOKEN: "test-admin-token", ...opts.env },
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    readFile: async (path) => {
      const text = opts.files?.[path];
      if (text === undefined) {
        throw new Error(`ENOENT: ${path}`);
      }
      return text;
    },
    confirm: async () => opts.confirm ?? false,
    sleep: async () => {
      await opts.sleep?.();
    },
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

const json = (text: string): unknown => JSON.parse(text);

describe("relayctl", () => {
  it("prints help, and exits non-zero on unknown commands and options", async () => {
    const help = await cli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/deliveries replay/);
    expect((await cli(["instances", "add", "--help"])).out).toMatch(
      /usage: relayctl instances add URL --token/,
    );
    expect((await cli(["frobnicate"])).code).toBe(2);
    expect((await cli(["instances", "list", "--colour"])).code).toBe(2);
  });

  it("manages instances", async () => {
    const added = await cli([
      "instances",
      "add",
      "https://gitlab.gnome.org/",
      "--token",
      "glpat-cli",
      "--json",
    ]);
    expect(added.code).toBe(0);
    const id = field<string>(json(added.out), "id");
    expect(field(json(added.out), "url")).toBe("https://gitlab.gnome.org");
    const list = await cli(["instances", "list"]);
    expect(list.out).toMatch(/^ID\s+URL\s+CREDENTIAL_OK/m);
    expect(list.out).toContain("https://gitlab.gnome.org");
    expect(list.out).not.toContain("glpat-cli");
    expect((await cli(["instances", "update", id, "--token", "glpat-new"])).code).toBe(0);
    const dup = await cli(["instances", "add", "https://gitlab.gnome.org", "--token", "x"]);
    expect(dup.code).toBe(1);
    expect(dup.err).toMatch(/409 conflict/);
    expect((await cli(["instances", "remove", id])).code).toBe(0);
  });

  it("registers projects and prints what to enter in GitLab, manages their tokens", async () => {
    await cli(["instances", "add", "https://salsa.debian.org", "--token", "glpat-cli"]);
    const added = await cli([
      "projects",
      "add",
      "--instance",
      "https://salsa.debian.org",
      "--project-id",
      "31",
      "--path",
      "debian/hello",
    ]);
    expect(added.code).toBe(0);
    expect(added.out).toMatch(/URL: +https:\/\/relay\.test\/webhooks\/gitlab/);
    expect(added.out).toMatch(/Secret token: +pgr_[A-Za-z0-9_-]{43}/);
    expect(added.out).toMatch(/Trigger: +Push events, Tag push events, Comments/);
    const id = /registered (\S+)/.exec(added.out)?.[1] ?? "";

    const group = await cli([
      "projects",
      "add",
      "--instance",
      "https://salsa.debian.org",
      "--namespace",
      "python-team",
      "--json",
    ]);
    expect(field(json(group.out), "kind")).toBe("namespace");
    expect((await cli(["projects", "list"])).out).toMatch(/debian\/hello/);
    expect((await cli(["projects", "show", id])).out).toMatch(/path: debian\/hello/);

    const rotated = await cli(["tokens", "rotate", id, "--grace", "60", "--json"]);
    expect(field<string>(json(rotated.out), "token")).toMatch(/^pgr_/);
    const revoked = await cli([
      "tokens",
      "revoke",
      id,
      field(json(rotated.out), "token_id"),
      "--json",
    ]);
    expect(field(json(revoked.out), "state")).toBe("revoked");
    expect((await cli(["projects", "remove", id])).code).toBe(0);
    expect((await cli(["projects", "show", id])).code).toBe(1);
    expect(
      (await cli(["projects", "add", "--instance", "https://salsa.debian.org", "--path", "x/y"]))
        .err,
    ).toMatch(/--project-id/);
  });

  it("reads and replays deliveries; bulk replay asks first", async () => {
    await cli(["instances", "add", "https://gitlab.example.com", "--token", "glpat-cli"]);
    const added = await cli([
      "projects",
      "add",
      "--instance",
      "https://gitlab.example.com",
      "--project-id",
      "64",
      "--path",
      "cli/deliveries",
      "--json",
    ]);
    const token = field<string>(json(added.out), "token");
    const message = await ingest({
      token,
      event: "Push Hook",
      body: push({ id: 64, path: "cli/deliveries" }),
    });
    await consume([{ body: message }], { PACKIT_SERVICE_URL: "", EVENTS_URL: "" });

    const list = await cli([
      "deliveries",
      "list",
      "--project-id",
      "64",
      "--status",
      "undeliverable",
    ]);
    expect(list.out).toContain(message.delivery_id);
    expect((await cli(["deliveries", "show", message.delivery_id])).out).toMatch(
      /status: undeliverable/,
    );

    const declined = await cli([
      "deliveries",
      "replay",
      "--status",
      "undeliverable",
      "--project-id",
      "64",
    ]);
    expect(declined.code).toBe(1);
    expect(declined.err).toMatch(/not replayed/);
    const bulk = await cli([
      "deliveries",
      "replay",
      "--status",
      "undeliverable",
      "--project-id",
      "64",
      "--yes",
      "--json",
    ]);
    expect(json(bulk.out)).toEqual({ replayed: 1, failed: 0, failed_ids: [] });
    const one = await cli(["deliveries", "replay", message.delivery_id, "--json"]);
    expect(field(json(one.out), "status")).toBe("queued");
    await consume(
      [{ body: { ...message, generation: field<number>(json(one.out), "generation") } }],
      destinations(newScope()),
    );
    expect((await cli(["deliveries", "show", message.delivery_id, "--json"])).out).toMatch(
      /"status": "delivered"/,
    );
  });

  it("lists feedback and refuses to replay an unknown one", async () => {
    const list = await cli(["feedback", "list", "--state", "failed", "--json"]);
    expect(list.code).toBe(0);
    expect(json(list.out)).toEqual({ feedback: expect.any(Array) });
    const missing = await cli(["feedback", "replay", "nope"]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/404 not_found/);
  });

  it("normalizes a webhook body without a server", async () => {
    const body = JSON.stringify(mergeRequest({ id: 9, path: "a/b" }, "update"));
    const res = await cli(["normalize", "mr.json", "--event", "Merge Request Hook"], {
      files: { "mr.json": body },
      env: { RELAY_URL: undefined, ADMIN_TOKEN: undefined },
    });
    expect(res.code).toBe(0);
    expect(json(res.out)).toMatchObject({
      kind: "merge_request",
      action: "update",
      code_changed: true,
      iid: 7,
    });
    const ignored = await cli(["normalize", "mr.json", "--event", "System Hook"], {
      files: { "mr.json": body },
    });
    expect(ignored.out).toMatch(/^outcome: ignored$/m);
    expect((await cli(["normalize", "missing.json", "--event", "Push Hook"])).code).toBe(1);
  });

  it("explains a missing RELAY_URL or ADMIN_TOKEN, and a wrong token", async () => {
    expect((await cli(["instances", "list"], { env: { RELAY_URL: undefined } })).err).toMatch(
      /RELAY_URL/,
    );
    const wrong = await cli(["instances", "list"], { env: { ADMIN_TOKEN: "nope" } });
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/401 unauthorized/);
  });
});

describe("relayctl stats", () => {
  it("shows the last hour per project and kind, and configuration problems", async () => {
    const added = await cli([
      "projects",
      "add",
      "--instance",
      "https://gitlab.example.com",
      "--project-id",
      "6401",
      "--path",
      "cli/stats",
      "--json",
    ]);
    expect(added.code).toBe(0);
    const token = field<string>(JSON.parse(added.out), "token");
    const message = await ingest({
      token,
      event: "Push Hook",
      body: push({ id: 6401, path: "cli/stats" }),
    });
    await consume([{ body: message }], destinations(newScope()));
    const table = await cli(["stats"]);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/cli\/stats\s+push\s+1\s+0\s+1/);
    expect(table.out).not.toContain("configuration:");
    const json = await cli(["stats", "--json"]);
    expect(field<unknown[]>(JSON.parse(json.out), "config_problems")).toEqual([]);
  });
});

describe("relayctl connect", () => {
  it("connects with GITLAB_TOKEN and no ADMIN_TOKEN, then follows the test event to verified", async () => {
    const { scope, instanceUrl } = await gitlabWorld();
    const res = await cli(["connect", `${instanceUrl}/fedora/python-rpm`, "--grant-bot"], {
      env: { ADMIN_TOKEN: undefined, GITLAB_TOKEN: MAINTAINER_TOKEN },
      sleep: () => deliverHookTests(scope),
    });
    expect(res.err).toBe("");
    expect(res.code).toBe(0);
    expect(res.out).toMatch(/connected fedora\/python-rpm \(project\) as @maria/);
    expect(res.out).toMatch(/bot: granted/);
    expect(res.out).toMatch(/verified: the test event reached the relay at \d{4}-/);
    expect(res.out).not.toContain(MAINTAINER_TOKEN);
    expect((await worldOf(scope)).hooks).toHaveLength(1);
  });

  it("names the role a Developer lacks, and disconnect removes the hook", async () => {
    const { scope, instanceUrl } = await gitlabWorld();
    const url = `${instanceUrl}/fedora/python-rpm`;
    const refused = await cli(["connect", url, "--gitlab-token", DEVELOPER_TOKEN, "--no-wait"]);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/403 forbidden: .*Maintainer or Owner role/);
    expect(
      (await cli(["connect", url, "--no-wait"], { env: { GITLAB_TOKEN: MAINTAINER_TOKEN } })).code,
    ).toBe(0);
    const gone = await cli(["disconnect", url, "--json"], {
      env: { GITLAB_TOKEN: MAINTAINER_TOKEN },
    });
    expect(gone.code).toBe(0);
    expect(field(json(gone.out), "hooks_removed")).toBe(1);
    expect((await worldOf(scope)).hooks).toHaveLength(0);
  });

  it("asks for a token, and --oauth points to the sign-in page instead", async () => {
    const missing = await cli(["connect", "https://gitlab.example.com/a/b"]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/GITLAB_TOKEN/);
    const oauth = await cli(["connect", "https://gitlab.example.com/a/b", "--oauth"]);
    expect(oauth.out).toContain(`${BASE}/connect?url=https%3A%2F%2Fgitlab.example.com%2Fa%2Fb`);
  });

  it("sets and removes an instance's OAuth application", async () => {
    const { instanceUrl } = await gitlabWorld();
    const list = json((await cli(["instances", "list", "--json"])).out);
    const id =
      field<{ id: string; url: string }[]>(list, "instances").find((i) => i.url === instanceUrl)
        ?.id ?? "";
    const set = await cli([
      "instances",
      "update",
      id,
      "--oauth-client-id",
      "app-1",
      "--oauth-client-secret",
      "gloas-s3cret",
      "--json",
    ]);
    expect(field(json(set.out), "oauth_client_id")).toBe("app-1");
    expect(set.out).not.toContain("gloas-s3cret");
    const removed = await cli(["instances", "update", id, "--remove-oauth", "--json"]);
    expect(field(json(removed.out), "oauth_client_id")).toBeNull();
    // A new URL is a new host: the OAuth secret, a credential for the old one, is dropped.
    await cli([
      "instances",
      "update",
      id,
      "--oauth-client-id",
      "app-2",
      "--oauth-client-secret",
      "gloas-x",
    ]);
    const moved = await cli(["instances", "update", id, "--url", `${instanceUrl}-moved`, "--json"]);
    expect(field(json(moved.out), "oauth_client_id")).toBeNull();
  });
});

describe("relayctl finds projects and checks instances against GitLab", () => {
  it("takes a project by registration id, GitLab id with --instance, or path", async () => {
    const a = await gitlabWorld();
    const b = await gitlabWorld();
    for (const world of [a, b]) {
      const res = await cli([
        "projects",
        "add",
        "--instance",
        world.instanceUrl,
        "--project-id",
        "10",
        "--path",
        "fedora/python-rpm",
        "--json",
      ]);
      expect(res.code).toBe(0);
    }
    const ambiguous = await cli(["projects", "show", "fedora/python-rpm"]);
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.err).toMatch(/matches \d+ registrations .*add --instance URL/);
    const byId = await cli(["projects", "show", "10", "--instance", a.instanceUrl, "--json"]);
    expect(byId.code).toBe(0);
    expect(field(json(byId.out), "instance_url")).toBe(a.instanceUrl);
    const byPath = await cli([
      "projects",
      "show",
      "FEDORA/python-rpm",
      "--instance",
      b.instanceUrl,
      "--json",
    ]);
    expect(field(json(byPath.out), "instance_url")).toBe(b.instanceUrl);
    const regId = field<string>(json(byPath.out), "id");
    expect(field(json((await cli(["projects", "show", regId, "--json"])).out), "id")).toBe(regId);
    expect((await cli(["projects", "show", "nope/nothing"])).err).toMatch(
      /no registration matches nope\/nothing/,
    );
  });

  it("instances check: a working token, a renamed project, and a refused token marked broken", async () => {
    const world = await gitlabWorld();
    await cli([
      "projects",
      "add",
      "--instance",
      world.instanceUrl,
      "--project-id",
      "10",
      "--path",
      "fedora/old-name",
    ]);
    const list = json((await cli(["instances", "list", "--json"])).out);
    const id =
      field<{ id: string; url: string }[]>(list, "instances").find(
        (i) => i.url === world.instanceUrl,
      )?.id ?? "";
    const ok = await cli(["instances", "check", id]);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain("API token: ok (@packit-bot)");
    expect(ok.out).toContain("warning: fedora/old-name: GitLab calls it fedora/python-rpm now");

    await cli(["instances", "update", id, "--token", "glpat-no-longer-valid"]);
    const refused = await cli(["instances", "check", id]);
    expect(refused.code).toBe(1);
    expect(refused.out).toContain("API token: refused");
    const after = json((await cli(["instances", "list", "--json"])).out);
    expect(
      field<{ url: string; credential_ok: boolean }[]>(after, "instances").find(
        (i) => i.url === world.instanceUrl,
      )?.credential_ok,
    ).toBe(false);
  });
});
