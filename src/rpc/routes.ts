import { MethodKind } from '@bufbuild/protobuf';
import { Code, ConnectError, type ConnectRouter } from '@connectrpc/connect';
import type { AuthenticationService } from '../services/authentication-service.js';
import type { Services } from '../services/index.js';
import type { PartLogService } from '../services/part-log-service.js';
import { apiKeyHandlers } from './api-key-handlers.js';
import { authHandlers } from './auth-handlers.js';
import { AuthService } from './auth-service-descriptor.js';
import { fragmentHandlers } from './fragment-handlers.js';
import { locationHandlers } from './location-handlers.js';
import { logHandlers } from './log-handlers.js';
import { machineHandlers } from './machine-handlers.js';
import { memberHandlers } from './member-handlers.js';
import { metadataHandlers } from './metadata-handlers.js';
import { organizationHandlers } from './organization-handlers.js';
import { robotServiceHandlers, servedRobotService } from './robot-service-handlers.js';
import { roleHandlers } from './role-handlers.js';
import { AppService, RobotService } from './service-descriptors.generated.js';

interface ServiceShape {
  typeName: string;
  methods: Record<string, { name: string; kind: MethodKind }>;
}

/**
 * A full implementation of a service: the given handlers, and for every other method a handler
 * answering UNIMPLEMENTED with the method's name. Records each implemented procedure.
 */
function complete<T extends object>(service: ServiceShape, handlers: T, implemented: Set<string>): T {
  const impl: Record<string, unknown> = { ...(handlers as Record<string, unknown>) };
  for (const [local, method] of Object.entries(service.methods)) {
    if (typeof impl[local] === 'function') {
      implemented.add(`${service.typeName}/${method.name}`);
      continue;
    }
    const error = () =>
      new ConnectError(`${service.typeName}.${method.name} is not implemented`, Code.Unimplemented);
    impl[local] =
      method.kind === MethodKind.ServerStreaming || method.kind === MethodKind.BiDiStreaming
        ? () => ({
            [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(error()) }),
          })
        : () => Promise.reject(error());
  }
  return impl as T;
}

/** The routes of all three services, and which procedures need an authenticated caller. */
export function createRoutes(services: Services, auth: AuthenticationService, partLogs: PartLogService) {
  const implemented = new Set<string>();
  const app = complete(
    AppService,
    {
      ...organizationHandlers(services.organizations, services.locations),
      ...locationHandlers(services.locations),
      ...apiKeyHandlers(services.apiKeys),
      ...metadataHandlers(services.metadata),
      ...machineHandlers(services.machines, services.parts),
      ...fragmentHandlers(services.fragments),
      ...roleHandlers(services.roles),
      ...memberHandlers(services.members),
      ...logHandlers(partLogs),
    },
    implemented,
  );
  const robot = complete(RobotService, robotServiceHandlers(services.machineAgent, partLogs), implemented);
  const authService = complete(AuthService, authHandlers(auth), implemented);
  const register = (router: ConnectRouter) => {
    router.service(AppService, app);
    router.service(servedRobotService, robot);
    router.service(AuthService, authService);
  };
  const authenticate = `${AuthService.typeName}/${AuthService.methods.authenticate.name}`;
  /** Methods not implemented yet answer UNIMPLEMENTED to anyone, so they skip authentication. */
  const needsCaller = (procedure: string) => implemented.has(procedure) && procedure !== authenticate;
  return { register, needsCaller };
}
