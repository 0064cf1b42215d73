/** bigint columns hold epoch milliseconds; pg returns bigint as a string, so turn it back into a number. */
export const epochMs = {
  to: (value: number | null | undefined) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};
