import { Handler } from './handler';

/** `chatrooms`: every room, as the lobby lists it. */
export const chatrooms: Handler<'chatrooms'> = ({ chat }) => chat.listRooms();
