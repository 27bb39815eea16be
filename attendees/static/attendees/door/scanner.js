// The door's one input. A barcode scanner "types" a ticket code and presses Enter, far
// faster than a person; people type part of a name. Typing searches names once it
// pauses; Enter hands the text over at once, before any search of a half-typed code.
(function (door) {
  "use strict";

  const TYPING_PAUSE_MS = 250;
  const SHORTEST_CODE = 6;
  const LONGEST_CODE = 200;

  // Text that may be a ticket code: one word of 6 or more characters. A name with a
  // space, or a few letters, is never sent as a code.
  function mayBeTicketCode(text) {
    return text.length >= SHORTEST_CODE && text.length <= LONGEST_CODE && !/\s/.test(text);
  }

  function attach({ form, input, onTyping, onEnter }) {
    let pause = null;

    input.addEventListener("input", () => {
      clearTimeout(pause);
      pause = setTimeout(() => onTyping(input.value.trim()), TYPING_PAUSE_MS);
    });

    form.addEventListener("submit", (submitEvent) => {
      submitEvent.preventDefault();
      clearTimeout(pause);
      const text = input.value.trim();
      if (text) {
        onEnter(text);
      }
    });

    return {
      clear() {
        clearTimeout(pause);
        input.value = "";
      },
    };
  }

  door.scanner = { attach, mayBeTicketCode };
})((window.attendeesDoor = window.attendeesDoor || {}));
