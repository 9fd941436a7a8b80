import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  clonePathOf,
  instanceRoot,
  isGitlabPath,
  parseGitRepo,
  projectPathOf,
  withinNamespace,
} from "../../src/ingress/git-repo-url";
import { type Grant, resolveIdentity } from "../../src/ingress/project-identity";
import { fuzzSeeds } from "../helpers/fuzz-seeds";

describe("parseGitRepo is ogr's parse_git_repo", () => {
  // Cases from ogr's own tests/unit/test_parsing.py and its docstring.
  it.each([
    ["https://gitlab.com/multi/part/namespace/repo.git", "multi/part/namespace", "repo"],
    ["https://gitlab.com/multi/part/namespace/repo", "multi/part/namespace", "repo"],
    ["https://gitlab.com/Multi/Repo.git/", "Multi", "Repo"],
    ["http://gitlab.example.com:8080/ns/repo.git", "ns", "repo"],
    ["gitlab.com/ns/repo", "ns", "repo"],
    ["git@gitlab.com:ns/sub/repo.git", "gitlab.com:ns/sub", "repo"],
    ["https://user@gitlab.com/ns/repo.git", "ns", "repo"],
    // Pagure's fork rule, applied to any host by ogr (and so by packit-service).
    ["https://gitlab.com/forks/alice/ns/repo.git", "ns", "repo"],
    ["https://gitlab.com/fork/alice/a/b/repo", "a/b", "repo"],
    ["https://gitlab.com/forks/repo", "forks", "repo"],
  ])("%s → %s / %s", (url, namespace, repo) => {
    const parsed = parseGitRepo(url);
    // ogr keeps `host:user` netlocs as a user-name namespace prefix; compare what it yields.
    if (url.startsWith("git@")) {
      expect(parsed?.repo).toBe(repo);
      return;
    }
    expect(parsed).toEqual({ namespace, repo });
  });

  it("returns null where ogr returns None or no namespace", () => {
    expect(parseGitRepo("")).toBeNull();
    expect(parseGitRepo(null)).toBeNull();
    expect(parseGitRepo("https://a@b@gitlab.com/ns/repo")).toBeNull();
    expect(parseGitRepo("https://gitlab.com/repo")).toBeNull();
    expect(parseGitRepo("https://gitlab.com:1:2/ns/repo")).toBeNull();
  });
});

describe("strict GitLab paths and URLs", () => {
  const instance = instanceRoot("https://gitlab.example.com");
  const rooted = instanceRoot("https://example.org/gitlab");
  if (!instance || !rooted) {
    throw new Error("instance roots");
  }

  it.each(["a/b", "Group.Sub/project-name_1", "a/b/c/d/e"])("%s is a GitLab path", (p) => {
    expect(isGitlabPath(p)).toBe(true);
  });

  it.each([
    "",
    "a//b",
    "a/../b",
    "a/./b",
    "../b",
    "a/%2e%2e/b",
    "a%2Fb",
    "a\\b",
    "a/b/",
    "/a/b",
    "a/ b",
    "a/-b",
    "a/.hidden",
    "a/b?x=1",
    "a/b#f",
    "a/b.git",
    "a/b.atom",
  ])("%j is not", (p) => {
    expect(isGitlabPath(p)).toBe(false);
  });

  it("reads a project path from a URL on the instance only", () => {
    expect(projectPathOf("https://gitlab.example.com/a/b", instance, false)).toBe("a/b");
    expect(projectPathOf("HTTPS://GitLab.Example.com:443/a/b.git", instance, true)).toBe("a/b");
    expect(projectPathOf("https://gitlab.example.com/a/b.git", instance, false)).toBeNull();
    expect(projectPathOf("https://gitlab.example.com.evil/a/b", instance, false)).toBeNull();
    expect(projectPathOf("https://evil@gitlab.example.com/a/b", instance, false)).toBeNull();
    expect(projectPathOf("http://gitlab.example.com/a/b", instance, false)).toBeNull();
    expect(projectPathOf("https://gitlab.example.com:8443/a/b", instance, false)).toBeNull();
    expect(projectPathOf("https://gitlab.example.com/a/../b/c", instance, false)).toBeNull();
    expect(projectPathOf("https://gitlab.example.com\\@evil/a/b", instance, false)).toBeNull();
    expect(projectPathOf("https://example.org/gitlab/a/b", rooted, false)).toBe("a/b");
    expect(projectPathOf("https://example.org/a/b", rooted, false)).toBeNull();
  });

  it("reads clone URLs in every form GitLab writes", () => {
    expect(clonePathOf("git@gitlab.example.com:a/b.git", "")).toBe("a/b");
    expect(clonePathOf("ssh://git@gitlab.example.com/a/b.git", "")).toBe("a/b");
    expect(clonePathOf("ssh://git@gitlab.example.com:2222/a/b.git", "")).toBe("a/b");
    expect(clonePathOf("ssh://git@gitlab.example.com:a/b.git", "")).toBe("a/b");
    expect(clonePathOf("https://gitlab.example.com/a/b.git", "")).toBe("a/b");
    expect(clonePathOf("https://example.org/gitlab/a/b.git", "/gitlab")).toBe("a/b");
    expect(clonePathOf("git@gitlab.example.com:a/../b.git", "")).toBeNull();
  });

  it("namespaces cover subgroups on segment boundaries, case-insensitively", () => {
    expect(withinNamespace("Fedora/Packages/bash", "fedora/packages")).toBe(true);
    expect(withinNamespace("fedora/packages/sub/bash", "fedora/packages/")).toBe(true);
    expect(withinNamespace("fedora/packages-extra/bash", "fedora/packages")).toBe(false);
    expect(withinNamespace("fedora/packages", "fedora/packages")).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------
// The identity rule against a model: a universe of projects on two instances, a random
// grant, and a payload whose identity fields each name a random project of the universe
// (or are absent). The relay must accept exactly when the model says every field agrees
// with the grant, and then the identity is that project.

const INSTANCES = ["https://gitlab.example.com", "https://salsa.example.org"] as const;
const UNIVERSE = [
  { id: 11, path: "team/app" },
  { id: 12, path: "team/sub/lib" },
  { id: 13, path: "other/app" },
  { id: 14, path: "Team/Tool" },
] as const;

type Ref = { instance: number; project: number };
type Slot = Ref | null;

const ref = fc.record({
  instance: fc.integer({ min: 0, max: INSTANCES.length - 1 }),
  project: fc.integer({ min: 0, max: UNIVERSE.length - 1 }),
});
const slot: fc.Arbitrary<Slot> = fc.option(ref, { nil: null, freq: 3 });

const grant = fc.oneof(
  ref.map((r) => ({ kind: "project" as const, ...r })),
  fc.record({
    kind: fc.constant("namespace" as const),
    instance: fc.integer({ min: 0, max: INSTANCES.length - 1 }),
    namespace: fc.constantFrom("team", "TEAM", "team/sub", "other"),
  }),
);

const FIELDS = [
  "project.id",
  "project_id",
  "project.path_with_namespace",
  "project.web_url",
  "project.git_http_url",
  "project.http_url",
  "repository.homepage",
] as const;

function payloadOf(slots: Slot[]): Record<string, unknown> {
  const project: Record<string, unknown> = {};
  const payload: Record<string, unknown> = { object_kind: "push", project };
  FIELDS.forEach((name, i) => {
    const s = slots[i];
    if (!s) {
      return;
    }
    const p = UNIVERSE[s.project];
    const base = `${INSTANCES[s.instance]}/${p?.path}`;
    const value = {
      "project.id": p?.id,
      project_id: p?.id,
      "project.path_with_namespace": p?.path,
      "project.web_url": base,
      "project.git_http_url": `${base}.git`,
      "project.http_url": `${base}.git`,
      "repository.homepage": base,
    }[name];
    if (name === "project_id") {
      payload.project_id = value;
    } else if (name === "repository.homepage") {
      payload.repository = { homepage: value };
    } else {
      project[name.slice("project.".length)] = value;
    }
  });
  return payload;
}

/** What the relay must decide, from the abstract choices alone. */
function model(g: GrantChoice, slots: Slot[]) {
  const present = FIELDS.map((name, i) => ({ name, slot: slots[i] ?? null })).filter(
    (f): f is { name: (typeof FIELDS)[number]; slot: Ref } => f.slot !== null,
  );
  if (present.length === 0) {
    return { accept: false } as const;
  }
  const instance = g.instance;
  const isId = (n: string) => n === "project.id" || n === "project_id";
  const ids = present.filter((f) => isId(f.name)).map((f) => f.slot.project);
  const paths = present.filter((f) => !isId(f.name));
  // Every URL is on the grant's instance; the path_with_namespace field names no instance.
  if (paths.some((f) => f.name !== "project.path_with_namespace" && f.slot.instance !== instance)) {
    return { accept: false } as const;
  }
  const pathKey = (p: number) => UNIVERSE[p]?.path.toLowerCase();
  const namedPaths = new Set(paths.map((f) => pathKey(f.slot.project)));
  if (namedPaths.size > 1 || new Set(ids).size > 1) {
    return { accept: false } as const;
  }
  const pathProject = paths[0]?.slot.project;
  const idProject = ids[0];
  if (g.kind === "project") {
    if (idProject !== undefined && idProject !== g.project) {
      return { accept: false } as const;
    }
    if (pathProject !== undefined && pathKey(pathProject) !== pathKey(g.project)) {
      return { accept: false } as const; // a rename GitLab has to confirm
    }
    return { accept: true, project: g.project, idKnown: true } as const;
  }
  if (pathProject === undefined) {
    return { accept: false } as const;
  }
  const path = UNIVERSE[pathProject]?.path.toLowerCase() ?? "";
  if (!path.startsWith(`${g.namespace.toLowerCase()}/`)) {
    return { accept: false } as const;
  }
  // Under a namespace grant only the path is authorized: ids must agree with each other,
  // but the identity carries none.
  return { accept: true, project: pathProject, idKnown: false } as const;
}

type GrantChoice =
  | { kind: "project"; instance: number; project: number }
  | { kind: "namespace"; instance: number; namespace: string };

function toGrant(g: GrantChoice): Grant {
  const instanceUrl = INSTANCES[g.instance] ?? "";
  if (g.kind === "project") {
    const p = UNIVERSE[g.project];
    return { kind: "project", instanceUrl, projectId: p?.id ?? 0, path: p?.path ?? "" };
  }
  return { kind: "namespace", instanceUrl, namespace: g.namespace };
}

describe("resolveIdentity against the model", () => {
  it("accepts exactly when every identity field agrees with the grant", () => {
    for (const seed of fuzzSeeds(20261125, 8)) {
      fc.assert(
        fc.property(grant, fc.array(slot, { minLength: 7, maxLength: 7 }), (g, slots) => {
          const expected = model(g, slots);
          const result = resolveIdentity(toGrant(g), payloadOf(slots), undefined);
          if (!expected.accept) {
            expect(result.outcome).not.toBe("ok");
            return;
          }
          expect(result.outcome).toBe("ok");
          if (result.outcome !== "ok") {
            return;
          }
          const p = UNIVERSE[expected.project];
          expect(result.identity.instanceUrl).toBe(INSTANCES[g.instance]);
          expect(result.identity.path.toLowerCase()).toBe(p?.path.toLowerCase());
          expect(result.identity.projectId).toBe(expected.idKnown ? p?.id : null);
          if (result.identity.packit) {
            expect(`${result.identity.packit.namespace}/${result.identity.packit.repo}`).toBe(
              p?.path,
            );
          }
        }),
        { seed, numRuns: 2000 },
      );
    }
  });
});
