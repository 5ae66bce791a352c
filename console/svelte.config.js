/** Svelte's options for the console (vite-plugin-svelte and svelte-check read this file). */
export default {
  compilerOptions: { runes: true },
};
