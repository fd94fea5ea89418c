import { Handler } from './handler';

/** `chatrooms` {cursor?}: a page of rooms as the lobby lists them, most recent activity first: {rooms, cursor?}. */
export const chatrooms: Handler<'chatrooms'> = ({ chat, data }) => chat.listRooms(data.cursor);
