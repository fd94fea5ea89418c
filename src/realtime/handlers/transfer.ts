import { Handler } from './handler';

/** `transfer` {room, user}: owner only; hands the room to a present member. */
export const transfer: Handler<'transfer'> = ({ chat, conn, data }) => chat.transfer(data.room, conn.user.info, data.user);
