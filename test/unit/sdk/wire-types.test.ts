import type { Static } from 'typebox';
import { describe, expectTypeOf, it } from 'vitest';
import type { toDelivered } from '../../../src/application/agent-delivery.js';
import type * as Api from '../../../src/presentation/api/schemas.js';
import type { AgentInfo, DeliveredTask, Task } from '../../../src/sdk/index.js';

/**
 * The SDK's wire types are written out (the SDK loads no server code, and its declarations need no
 * server's): the type check of the suite fails when one leaves out, or adds, a field of the API's.
 */
describe("the SDK's wire types", () => {
  it('name every field the API answers, and no other', () => {
    expectTypeOf<keyof Task>().toEqualTypeOf<keyof Static<typeof Api.Task>>();
    expectTypeOf<keyof AgentInfo>().toEqualTypeOf<keyof Static<typeof Api.Agent>>();
    expectTypeOf<keyof DeliveredTask>().toEqualTypeOf<keyof Static<typeof Api.DeliveredTask>>();
    expectTypeOf<keyof DeliveredTask>().toEqualTypeOf<keyof ReturnType<typeof toDelivered>>();
  });

  it('give each field the type the API gives it', () => {
    expectTypeOf<Static<typeof Api.DeliveredTask>>().toMatchTypeOf<DeliveredTask>();
    expectTypeOf<Required<AgentInfo>['circuit']>().toMatchTypeOf<Required<Static<typeof Api.Agent>>['circuit']>();
    expectTypeOf<Omit<Static<typeof Api.Task>, 'input' | 'output'>>().toMatchTypeOf<Omit<Task, 'input' | 'output'>>();
  });
});
