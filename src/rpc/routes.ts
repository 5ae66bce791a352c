import type { ConnectRouter } from '@connectrpc/connect';
import type { ServedServices } from '../services/index.js';
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
import { leanMethods, type LeanMethod } from './lean-methods.js';

interface ServiceShape {
  typeName: string;
  methods: Record<string, { name: string }>;
}

/**
 * The procedures (`<service>/<Method>`) a partial implementation of `service` has a handler for.
 * connect-node answers UNIMPLEMENTED, naming the method, for every method left out
 * (`createServiceImplSpec`), so the routes register only these.
 */
export function implementedProcedures(service: ServiceShape, handlers: object): string[] {
  const impl = handlers as Record<string, unknown>;
  return Object.entries(service.methods)
    .filter(([local]) => typeof impl[local] === 'function')
    .map(([, method]) => `${service.typeName}/${method.name}`);
}

/** The routes of all four services, and which procedures need an authenticated caller. */
export function createRoutes(services: ServedServices) {
  const app = {
    ...organizationHandlers(services.organizations, services.locations),
    ...locationHandlers(services.locations),
    ...apiKeyHandlers(services.apiKeys),
    ...metadataHandlers(services.metadata),
    ...machineHandlers(services.machines, services.parts),
    ...fragmentHandlers(services.fragments),
    ...roleHandlers(services.roles),
    ...memberHandlers(services.members),
    ...logHandlers(services.partLogs),
    ...registryHandlers(services.registry, services.moduleFiles),
  };
  const robot = robotServiceHandlers(services.machineAgent, services.partLogs);
  const packages = packageHandlers(services.packages);
  const authService = authHandlers(services.auth);
  const implemented = new Set([
    ...implementedProcedures(AppService, app),
    ...implementedProcedures(RobotService, robot),
    ...implementedProcedures(PackageService, packages),
    ...implementedProcedures(AuthService, authService),
  ]);
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
  /**
   * The machine-facing unary methods (RobotService, Authenticate) for the lean native-gRPC path,
   * by request path: the same handlers, behind the same checks.
   */
  const machineFacing = (): Map<string, LeanMethod> =>
    new Map([
      ...leanMethods(withTolerantRequests(servedRobotService), robot, services.auth, needsCaller),
      ...leanMethods(withTolerantRequests(AuthService), authService, services.auth, needsCaller),
    ]);
  return { register, needsCaller, procedures, machineFacing };
}
