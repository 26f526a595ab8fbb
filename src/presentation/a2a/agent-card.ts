import type { AgentCard, AgentSkill } from '@a2a-js/sdk';

export interface CardOptions {
  /** Absolute URL of the JSON-RPC endpoint. */
  endpointUrl: string;
  /** The mesh's version. */
  version: string;
}

const MODES = ['text/plain', 'application/json'];

function skillOf(capability: string): AgentSkill {
  return {
    id: capability,
    name: capability,
    description: `Tasks of the capability '${capability}', routed by the mesh to one of the live agents that have it`,
    tags: [capability],
    examples: [],
    inputModes: MODES,
    outputModes: MODES,
    securityRequirements: [],
  };
}

/**
 * The mesh as one A2A agent. With the capabilities of a tenant's live agents it is that tenant's
 * card; without (`undefined`: no key was presented) it is the public card, which names no skill.
 * Both speak JSON-RPC, A2A 1.0 and 0.3 at the same URL, and take the API key as a bearer token.
 */
export function agentCard(capabilities: string[] | undefined, options: CardOptions): AgentCard {
  const jsonRpc = (protocolVersion: string) => ({ url: options.endpointUrl, protocolBinding: 'JSONRPC', tenant: '', protocolVersion });
  return {
    name: 'AgentMesh',
    description:
      capabilities === undefined
        ? 'An AgentMesh: present an API key as a bearer token to get its tenant\'s card, whose skills are the capabilities of the live agents'
        : "This tenant's agents on an AgentMesh: each skill is a capability, and each message becomes a task routed to a live agent that has it",
    supportedInterfaces: [jsonRpc('1.0'), jsonRpc('0.3')],
    provider: undefined,
    version: options.version,
    capabilities: { streaming: true, pushNotifications: false, extensions: [], extendedAgentCard: true },
    securitySchemes: {
      bearer: { scheme: { $case: 'httpAuthSecurityScheme', value: { scheme: 'Bearer', bearerFormat: 'AgentMesh API key (am_<id>.<secret>)', description: 'An AgentMesh API key of the tenant' } } },
    },
    securityRequirements: [{ schemes: { bearer: { list: [] } } }],
    defaultInputModes: MODES,
    defaultOutputModes: MODES,
    skills: (capabilities ?? []).map(skillOf),
    signatures: [],
  };
}
