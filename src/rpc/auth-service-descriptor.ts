import { MethodKind, proto3, type Message } from '@bufbuild/protobuf';

/*
 * proto.rpc.v1.AuthService, which the SDK calls but does not export. Built here with the field
 * numbers of goutils' rpc/v1/auth.proto; only Authenticate is served.
 */
export interface CredentialsMessage extends Message<CredentialsMessage> {
  type: string;
  payload: string;
}
export interface AuthenticateRequestMessage extends Message<AuthenticateRequestMessage> {
  entity: string;
  credentials?: CredentialsMessage;
}
export interface AuthenticateResponseMessage extends Message<AuthenticateResponseMessage> {
  accessToken: string;
}

export const Credentials = proto3.makeMessageType<CredentialsMessage>('proto.rpc.v1.Credentials', () => [
  { no: 1, name: 'type', kind: 'scalar', T: 9 },
  { no: 2, name: 'payload', kind: 'scalar', T: 9 },
]);

export const AuthenticateRequest = proto3.makeMessageType<AuthenticateRequestMessage>(
  'proto.rpc.v1.AuthenticateRequest',
  () => [
    { no: 1, name: 'entity', kind: 'scalar', T: 9 },
    { no: 2, name: 'credentials', kind: 'message', T: Credentials },
  ],
);

export const AuthenticateResponse = proto3.makeMessageType<AuthenticateResponseMessage>(
  'proto.rpc.v1.AuthenticateResponse',
  () => [{ no: 1, name: 'access_token', kind: 'scalar', T: 9 }],
);

export const AuthService = {
  typeName: 'proto.rpc.v1.AuthService',
  methods: {
    authenticate: {
      name: 'Authenticate',
      I: AuthenticateRequest,
      O: AuthenticateResponse,
      kind: MethodKind.Unary,
    },
  },
} as const;
