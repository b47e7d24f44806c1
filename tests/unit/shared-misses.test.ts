import { SharedMisses } from '../../src/domain/shared-misses';

/** A lookup whose answers the test gives, recording the names asked. */
function controlledLookup() {
  const asked: string[] = [];
  const answers: ((id: number | undefined | Error) => void)[] = [];
  return {
    asked,
    answer: (index: number, id: number | undefined | Error) => answers[index](id),
    findIdByName: (name: string) => {
      asked.push(name);
      return new Promise<number | undefined>((resolve, reject) => {
        answers.push((id) => (id instanceof Error ? reject(id) : resolve(id)));
      });
    },
  };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

test('misses of one name in one event-loop turn share one lookup, started at the end of that turn', async () => {
  const lookup = controlledLookup();
  const shared = new SharedMisses(lookup);
  const answers = [shared.findIdByName('ROOM9'), shared.findIdByName('ROOM9'), shared.findIdByName('ROOM8')];
  expect(lookup.asked).toEqual([]); // nothing sent before the turn ends
  await nextTurn();
  expect(lookup.asked).toEqual(['ROOM9', 'ROOM8']);
  expect(shared.queries).toBe(2);
  lookup.answer(0, 7);
  lookup.answer(1, undefined);
  expect(await Promise.all(answers)).toEqual([7, 7, undefined]);
});

test('a miss after the lookup started gets a lookup of its own: the started one may predate what it knows', async () => {
  const lookup = controlledLookup();
  const shared = new SharedMisses(lookup);
  const first = shared.findIdByName('ROOM9');
  await nextTurn();
  const second = shared.findIdByName('ROOM9'); // the first lookup is in flight, unanswered
  await nextTurn();
  expect(lookup.asked).toEqual(['ROOM9', 'ROOM9']);
  lookup.answer(0, undefined);
  lookup.answer(1, 12); // created in between
  expect([await first, await second]).toEqual([undefined, 12]);
});

test('a failed lookup fails every miss that shared it', async () => {
  const lookup = controlledLookup();
  const shared = new SharedMisses(lookup);
  const answers = [shared.findIdByName('ROOM9'), shared.findIdByName('ROOM9')].map((answer) => answer.catch((error: Error) => error.message));
  await nextTurn();
  lookup.answer(0, new Error('connection lost'));
  expect(await Promise.all(answers)).toEqual(['connection lost', 'connection lost']);
});
