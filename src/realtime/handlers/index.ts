import { availableUsers } from './available-users';
import { chatrooms } from './chatrooms';
import { create } from './create';
import { remove } from './delete';
import { HandlerTable } from './handler';
import { history } from './history';
import { join } from './join';
import { kick } from './kick';
import { leave } from './leave';
import { message } from './message';
import { mute, unmute } from './mute';
import { register } from './register';
import { transfer } from './transfer';
import { typing } from './typing';
import { whisper } from './whisper';

/** Every client event and the handler that serves it. */
export const handlers: HandlerTable = {
  register,
  chatrooms,
  create,
  join,
  leave,
  message,
  history,
  availableUsers,
  whisper,
  typing,
  kick,
  transfer,
  delete: remove,
  mute,
  unmute,
};
