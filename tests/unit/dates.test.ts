import { addDays, createTodayClock, daysBetween, parseDay } from '../../src/domain/dates';

describe('parseDay', () => {
  test.each([
    ['25.11.26', '2026-11-25'],
    ['25/11/26', '2026-11-25'],
    ['2026-11-25', '2026-11-25'],
    ['01.01.00', '2000-01-01'],
    ['31.12.99', '2099-12-31'],
    ['29.02.28', '2028-02-29'],
    ['2000-02-29', '2000-02-29'],
  ])('accepts %s as %s', (input, expected) => {
    expect(parseDay(input)).toBe(expected);
  });

  test.each([
    '31.02.27', '29.02.27', '00.01.27', '32.01.27', '01.13.27', '01.00.27', '1.1.27', '01.02/27',
    '2027-02-29', '1900-02-29', '0000-01-01', '2026-1-05', '25.11.2026', '', ' 25.11.26', '25-11-26', 'tomorrow',
  ])('refuses %j', (input) => {
    expect(parseDay(input)).toBeUndefined();
  });
});

test('addDays and daysBetween cross months, years and leap days', () => {
  expect(addDays('2028-02-28', 1)).toBe('2028-02-29');
  expect(addDays('2027-12-31', 1)).toBe('2028-01-01');
  expect(addDays('2026-03-01', -1)).toBe('2026-02-28');
  expect(daysBetween('2026-01-01', '2027-01-01')).toBe(365);
  expect(daysBetween('2028-01-01', '2029-01-01')).toBe(366);
});

describe('createTodayClock', () => {
  const instant = Date.parse('2026-11-25T23:30:00Z');

  test('today depends on the time zone', () => {
    expect(createTodayClock('UTC', () => instant)()).toBe('2026-11-25');
    expect(createTodayClock('Asia/Tokyo', () => instant)()).toBe('2026-11-26');
    expect(createTodayClock('America/New_York', () => instant)()).toBe('2026-11-25');
  });

  test('today is YYYY-MM-DD in zones from -12 to +14 and across DST changes', () => {
    const zones = ['Etc/GMT+12', 'Pacific/Pago_Pago', 'America/Los_Angeles', 'Europe/Berlin', 'Asia/Kathmandu', 'Pacific/Chatham', 'Pacific/Kiritimati'];
    for (const instant of ['2026-03-08T10:30:00Z', '2026-03-29T01:30:00Z', '2026-10-25T00:59:59Z', '2026-12-31T23:59:59Z']) {
      for (const zone of zones) expect(createTodayClock(zone, () => Date.parse(instant))()).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
    expect(createTodayClock('Pacific/Kiritimati', () => Date.parse('2026-12-31T10:00:00Z'))()).toBe('2027-01-01');
    expect(createTodayClock('Etc/GMT+12', () => Date.parse('2027-01-01T11:59:59Z'))()).toBe('2026-12-31');
    // Berlin's clocks go back at 01:00 UTC on 2026-10-25: the day is the same on both sides.
    expect(createTodayClock('Europe/Berlin', () => Date.parse('2026-10-25T00:59:59Z'))()).toBe('2026-10-25');
    expect(createTodayClock('Europe/Berlin', () => Date.parse('2026-10-24T21:59:59Z'))()).toBe('2026-10-24');
  });

  test('a day boundary is seen within one second', () => {
    let now = Date.parse('2026-11-25T23:59:59.500Z');
    const today = createTodayClock('UTC', () => now);
    expect(today()).toBe('2026-11-25');
    now += 400;
    expect(today()).toBe('2026-11-25');
    now += 200; // 00:00:00.100 next day
    expect(today()).toBe('2026-11-26');
  });

  test('a clock set back is followed at once, not when it reaches the second it left', () => {
    let now = Date.parse('2027-11-25T12:00:00.500Z'); // a clock a year ahead, then corrected
    const today = createTodayClock('UTC', () => now);
    expect(today()).toBe('2027-11-25');
    now = Date.parse('2026-11-25T12:00:00.700Z');
    expect(today()).toBe('2026-11-25');
    now = Date.parse('2026-11-26T00:00:00.200Z');
    expect(today()).toBe('2026-11-26');
    now -= 300; // back across midnight, by a fraction of a second
    expect(today()).toBe('2026-11-25');
  });
});
