declare module '*.jl' {
  const source: string;
  export default source;
}

declare module '*.wasm' {
  const url: string;
  export default url;
}
declare module '*.svg' {
  const value: string;
  export default value;
}
