import { Handler } from './handler';

/** `availableUsers`: everyone online, each once. */
export const availableUsers: Handler<'availableUsers'> = ({ chat }) => chat.users();
