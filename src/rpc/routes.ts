import { MethodKind } from '@bufbuild/protobuf';
import { Code, ConnectError, type ConnectRouter } from '@connectrpc/connect';
import type { AuthenticationService } from '../services/authentication-service.js';
import type { Services } from '../services/index.js';
import type { ModuleFileService } from '../services/module-file-service.js';
import type { PartLogService } from '../services/part-log-service.js';
import type { RegistryService } from '../services/registry-service.js';
import type { MachineAgentService } from '../services/machine-agent-service.js';
import type { PackageService as Packages } from '../services/package-service.js';
import { apiKeyHandlers } from './api-key-handlers.js';
import { authHandlers } from './auth-handlers.js';
import { AuthService } from './auth-service-descriptor.js';
import { fragmentHandlers } from './fragment-handlers.js';
import { packageHandlers } from './package-handlers.js';
import { PackageService } from './package-service.generated.js';
import { locationHandlers } from './location-handlers.js';
import { logHandlers } from './log-handlers.js';
import { machineHandlers } from './machine-handlers.js';
import { memberHandlers } from './member-handlers.js';
import { metadataHandlers } from './metadata-handlers.js';
import { organizationHandlers } from './organization-handlers.js';
import { registryHandlers } from './registry-handlers.js';
import { robotServiceHandlers, servedRobotService } from './robot-service-handlers.js';
import { roleHandlers } from './role-handlers.js';
import { AppService, RobotService } from './service-descriptors.generated.js';
import { withTolerantRequests } from './request-guards.js';

interface ServiceShape {
  typeName: string;
  methods: Record<string, { name: string; kind: MethodKind }>;
}

/**
 * A full implementation of a service: the given handlers, and for every other method a handler
 * answering UNIMPLEMENTED with the method's name. Records each implemented procedure.
 */
export function completeService<T extends object>(
  service: ServiceShape,
  handlers: T,
  implemented: Set<string>,
): T {
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

/** Services built beside the use-case graph, from stores the server opens (log store, blob store). */
export interface StoreBackedServices {
  partLogs: PartLogService;
  registry: RegistryService;
  moduleFiles: ModuleFileService;
  packages: Packages;
  machineAgent: MachineAgentService;
}

/** The routes of all four services, and which procedures need an authenticated caller. */
export function createRoutes(services: Services, auth: AuthenticationService, stored: StoreBackedServices) {
  const { partLogs } = stored;
  const implemented = new Set<string>();
  const app = completeService(
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
      ...registryHandlers(stored.registry, stored.moduleFiles),
    },
    implemented,
  );
  const robot = completeService(
    RobotService,
    robotServiceHandlers(stored.machineAgent, partLogs),
    implemented,
  );
  const packages = completeService(PackageService, packageHandlers(stored.packages), implemented);
  const authService = completeService(AuthService, authHandlers(auth), implemented);
  // Requests decode tolerantly: what does not decode is refused as the client's mistake.
  const register = (router: ConnectRouter) => {
    router.service(withTolerantRequests(AppService), app);
    router.service(withTolerantRequests(servedRobotService), robot);
    router.service(withTolerantRequests(AuthService), authService);
    router.service(withTolerantRequests(PackageService), packages);
  };
  /** Every procedure served, as its request path (`/<service>/<Method>`). */
  const procedures = new Set(
    [AppService, RobotService, AuthService, PackageService].flatMap((service) =>
      Object.values(service.methods).map((m: { name: string }) => `/${service.typeName}/${m.name}`),
    ),
  );
  const authenticate = `${AuthService.typeName}/${AuthService.methods.authenticate.name}`;
  /** Methods not implemented yet answer UNIMPLEMENTED to anyone, so they skip authentication. */
  const needsCaller = (procedure: string) => implemented.has(procedure) && procedure !== authenticate;
  return { register, needsCaller, procedures };
}
