import { readNameNotification } from '../../src/db/name-notification';

test('what the triggers, pings and reload calls send is read as sent', () => {
  expect(readNameNotification('{"kind":"room","op":"insert","id":7,"name":"R7"}')).toEqual({ kind: 'room', op: 'insert', id: 7, name: 'R7' });
  expect(readNameNotification('{"kind":"user","op":"update","id":3,"name":"bob","old":"rob"}'))
    .toEqual({ kind: 'user', op: 'update', id: 3, name: 'bob', old: 'rob' });
  expect(readNameNotification('{"kind":"room","op":"delete","id":2147483647,"name":"R"}'))
    .toEqual({ kind: 'room', op: 'delete', id: 2147483647, name: 'R' });
  expect(readNameNotification('{"op":"ping","token":"12-ab"}')).toEqual({ op: 'ping', token: '12-ab' });
  expect(readNameNotification('{"op":"reload"}')).toEqual({ op: 'reload' });
});

test('anything else is not a notification: not JSON, not an object, an unknown op or kind, an id that is no row id', () => {
  const refused = [
    '', 'not json', 'null', '42', '"reload"', '[]', '{}', '{"op":"truncate"}', '{"op":"ping"}', '{"op":"ping","token":5}',
    '{"kind":"desk","op":"insert","id":1,"name":"D"}',
    '{"kind":"room","op":"insert","name":"R"}',
    '{"kind":"room","op":"insert","id":"1","name":"R"}',
    '{"kind":"room","op":"insert","id":"1,2","name":"R"}',
    '{"kind":"room","op":"insert","id":1.5,"name":"R"}',
    '{"kind":"room","op":"insert","id":0,"name":"R"}',
    '{"kind":"room","op":"insert","id":-3,"name":"R"}',
    '{"kind":"room","op":"insert","id":2147483648,"name":"R"}',
    '{"kind":"room","op":"insert","id":1,"name":5}',
    '{"kind":"room","op":"insert","id":1}',
    '{"kind":"room","op":"update","id":1,"name":"R","old":null}',
  ];
  expect(refused.filter((payload) => readNameNotification(payload) !== undefined)).toEqual([]);
});
