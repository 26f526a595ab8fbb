import type { Mesh } from '../../../application/mesh.js';
import { getAgent, listAgents } from '../../../application/use-cases/query-agents.js';
import { Agent, AgentListQuery, errors, IdParams, pageOf, RegisterAgentBody } from '../schemas.js';
import { bearerSecurity, type TypedApp } from '../typed-app.js';
import { PLAIN } from '../../../domain/plain.js';

export function agentRoutes(app: TypedApp, mesh: Mesh): void {
  const tags = ['agents'];
  app.post(
    '/v1/agents',
    { schema: { tags, summary: 'Register an agent with its capabilities', security: bearerSecurity, body: RegisterAgentBody, response: { 201: Agent, ...errors(409, 429) } } },
    async (request, reply) => reply.code(201).send(await mesh.commands.registerAgent(request.caller, request.body)),
  );

  app.get(
    '/v1/agents',
    { schema: { tags, summary: 'List agents, filtered by capability or status, with cursor pagination', security: bearerSecurity, querystring: AgentListQuery, response: { 200: pageOf(Agent), ...errors() } } },
    async (request) => {
      const { limit = 50, cursor, capability, status } = request.query;
      return listAgents(
        mesh.ctx,
        request.caller,
        { ...PLAIN, ...(capability !== undefined && { capability }), ...(status !== undefined && { status }) },
        { limit, ...(cursor !== undefined && { cursor }) },
      );
    },
  );

  app.get(
    '/v1/agents/:id',
    { schema: { tags, summary: 'One agent, with its live load', security: bearerSecurity, params: IdParams, response: { 200: Agent, ...errors(404) } } },
    async (request) => getAgent(mesh.ctx, request.caller, request.params.id),
  );

  const lifecycle = [
    ['heartbeat', 'Heartbeat: the agent is alive (an unhealthy agent recovers)', 'heartbeatAgent'],
    ['pause', 'Pause: keep in-flight tasks, take no new ones', 'pauseAgent'],
    ['resume', 'Resume a paused agent', 'resumeAgent'],
  ] as const;
  for (const [verb, summary, command] of lifecycle) {
    app.post(
      `/v1/agents/:id/${verb}`,
      { schema: { tags, summary, security: bearerSecurity, params: IdParams, response: { 200: Agent, ...errors(404, 409) } } },
      async (request) => mesh.commands[command](request.caller, request.params.id),
    );
  }

  app.delete(
    '/v1/agents/:id',
    { schema: { tags, summary: 'Terminate an agent; its tasks go back to the queue', security: bearerSecurity, params: IdParams, response: { 200: Agent, ...errors(404) } } },
    async (request) => mesh.commands.terminateAgent(request.caller, request.params.id),
  );
}
