/**
 * The identity rule as a model, for property tests: a universe of projects on two instances,
 * a random grant, and a payload whose identity fields each name a random project of the
 * universe (or are absent). The relay must accept exactly when the model says every field
 * agrees with the grant, and then the identity is that project.
 */
import fc from "fast-check";
import type { Grant } from "../../src/gitlab/project-identity";

export const INSTANCES = ["https://gitlab.example.com", "https://salsa.example.org"] as const;
export const UNIVERSE = [
  { id: 11, path: "team/app" },
  { id: 12, path: "team/sub/lib" },
  { id: 13, path: "other/app" },
  { id: 14, path: "Team/Tool" },
] as const;

export type Ref = { instance: number; project: number };
export type Slot = Ref | null;

export const ref = fc.record({
  instance: fc.integer({ min: 0, max: INSTANCES.length - 1 }),
  project: fc.integer({ min: 0, max: UNIVERSE.length - 1 }),
});
export const slot: fc.Arbitrary<Slot> = fc.option(ref, { nil: null, freq: 3 });

export const grant = fc.oneof(
  ref.map((r) => ({ kind: "project" as const, ...r })),
  fc.record({
    kind: fc.constant("namespace" as const),
    instance: fc.integer({ min: 0, max: INSTANCES.length - 1 }),
    namespace: fc.constantFrom("team", "TEAM", "team/sub", "other"),
  }),
);

export const FIELDS = [
  "project.id",
  "project_id",
  "project.path_with_namespace",
  "project.web_url",
  "project.git_http_url",
  "project.http_url",
  "repository.homepage",
] as const;

export function payloadOf(slots: Slot[]): Record<string, unknown> {
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
export function model(g: GrantChoice, slots: Slot[]) {
  const present = FIELDS.map((name, i) => ({ name, slot: slots[i] ?? null })).filter(
    (f): f is { name: (typeof FIELDS)[number]; slot: Ref } => f.slot !== null,
  );
  if (present.length === 0) {
    // Names no project: nothing to relay it for. Ingress answers 202 "ignored" (never a 4xx,
    // which GitLab counts towards pausing the hook) and queues nothing.
    return { accept: false, ignored: true } as const;
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

export type GrantChoice =
  | { kind: "project"; instance: number; project: number }
  | { kind: "namespace"; instance: number; namespace: string };

export function toGrant(g: GrantChoice): Grant {
  const instanceUrl = INSTANCES[g.instance] ?? "";
  if (g.kind === "project") {
    const p = UNIVERSE[g.project];
    return { kind: "project", instanceUrl, projectId: p?.id ?? 0, path: p?.path ?? "" };
  }
  return { kind: "namespace", instanceUrl, namespace: g.namespace };
}

/**
 * Grants with payloads that mostly agree: each field is absent, the target, or (now and
 * then) a stray project. Uniform slots alone would almost never agree.
 */
export const grantAndSlots: fc.Arbitrary<[GrantChoice, Slot[]]> = grant.chain((g) => {
  const target = fc.oneof(
    fc.constant<Ref>({ instance: g.instance, project: g.kind === "project" ? g.project : 0 }),
    ref.map((r) => ({ ...r, instance: g.instance })),
  );
  const biased = target.chain((t) =>
    fc.array(
      fc.oneof(
        { weight: 2, arbitrary: fc.constant<Slot>(null) },
        { weight: 6, arbitrary: fc.constant<Slot>(t) },
        { weight: 1, arbitrary: slot },
      ),
      { minLength: 7, maxLength: 7 },
    ),
  );
  return fc.tuple(fc.constant(g), fc.oneof(biased, fc.array(slot, { minLength: 7, maxLength: 7 })));
});
