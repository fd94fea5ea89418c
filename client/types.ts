/** The protocol's shapes as the browser sees them (docs/protocol.md). */
export interface User {
  id: string;
  name: string;
  color: string;
}

export interface RoomInfo {
  id: string;
  title: string;
  max: number;
  members: number;
  locked: boolean;
  owner: User;
  lastActivity: number;
}

export interface Entry {
  room: string;
  seq: number;
  user: User;
  ts: number;
  kind?: 'joined' | 'left' | 'kicked' | 'owner';
  text?: string;
  gif?: string;
  nonce?: string;
}

export interface Whisper {
  id: string;
  from: User;
  to: User;
  text: string;
  ts: number;
}

export interface JoinAck {
  room: RoomInfo;
  members: User[];
  history: Entry[];
  more?: true;
}
