declare module "virtual:scorpius-labels" {
  const labels: {
    names: Record<number, Record<string, string>>;
    tokens: Record<number, Record<string, { symbol: string; decimals: number }>>;
  };
  export default labels;
}
