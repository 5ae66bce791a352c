import type { ServiceImpl } from '@connectrpc/connect';
import type { AppService } from './service-descriptors.generated.js';

/** Some of AppService's methods; each handler file supplies its own. */
export type AppHandlers = Partial<ServiceImpl<typeof AppService>>;
