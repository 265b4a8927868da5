/**
 * `withAgent` for SDKs without a cheap copy of a client (`@google/genai`,
 * `@mistralai/mistralai`): a new client of the same class, built from the
 * options the drop-in was built with, attributed to the agent; cached per name.
 */

import { STATE, type ClientState, type CostlineClientOptions } from "./hook";

const OPTIONS = Symbol.for("costline.clientOptions");
const MAX_AGENT_CLIENTS = 256;

/** Keep the options a drop-in was built with (for `withAgent`). */
export function keepOptions(client: object, options: unknown): void {
  Object.defineProperty(client, OPTIONS, { value: options, configurable: true });
}

export function rebuiltAgentClient<C extends object>(client: C, name: string): C {
  if (typeof name !== "string" || !name) throw new TypeError("withAgent() needs a non-empty agent name");
  const state = (client as { [STATE]?: ClientState })[STATE];
  if (!state) return client;
  const agents = (state.agents ??= new Map());
  let copy = agents.get(name) as C | undefined;
  if (!copy) {
    const Ctor = client.constructor as new (options: unknown, costline: CostlineClientOptions) => C;
    copy = new Ctor((client as { [OPTIONS]?: unknown })[OPTIONS], {
      agent: name,
      tags: state.tags as Record<string, string>,
      streamUsage: state.streamUsage,
      ...(state.recordAs ? { provider: state.recordAs } : {}),
    });
    if (agents.size < MAX_AGENT_CLIENTS) agents.set(name, copy);
  }
  return copy;
}
