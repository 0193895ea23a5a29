// What both pages share in the browser: finding their elements, the status line, the API's errors for a person.

/** An element that must be in the page: a missing one is a bug in the page, said plainly. */
export function element<T extends Element>(selector: string, type: abstract new () => T): T {
  const found = document.querySelector(selector);
  if (!(found instanceof type)) throw new Error(`the page has no ${type.name} ${selector}`);
  return found;
}

/** Shows a message in the page's status line (polite), or an error in its alert line (announced at once). */
export function showStatus(message: string, kind: 'info' | 'error' = 'info'): void {
  element('#status', HTMLElement).textContent = kind === 'info' ? message : '';
  element('#error', HTMLElement).textContent = kind === 'error' ? message : '';
}

/** A message for a person: the API's words for its errors, the error's text for anything else. */
export const describeError = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** A new element with its text and attributes: text goes in as text, never as markup. */
export function make<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, attributes: Record<string, string> = {}): HTMLElementTagNameMap[K] {
  const created = document.createElement(tag);
  if (text !== undefined) created.textContent = text;
  for (const [name, value] of Object.entries(attributes)) created.setAttribute(name, value);
  return created;
}

/** Runs an action from a button with the button disabled meanwhile; its failure is shown, not thrown. */
export async function whileBusy(button: HTMLButtonElement, action: () => Promise<void>): Promise<void> {
  button.disabled = true;
  try {
    await action();
  } catch (error) {
    showStatus(describeError(error), 'error');
  } finally {
    button.disabled = false;
  }
}
