"""The kiosk's words, per language. A library adds a language by adding a dict here.

Keys are stable names; values may hold ``{placeholders}`` filled by :func:`text`. Missing
keys fall back to English, so a half-done translation still shows a working kiosk.
"""

from __future__ import annotations

from typing import Any

LANGUAGES = {"en": "English", "es": "Español"}

EN: dict[str, str] = {
    "title": "Library lockers",
    "welcome": "Welcome. What would you like to do?",
    "pickup": "Pick up my items",
    "pickup_hint": "Use your library card and PIN, or the code from your message.",
    "return": "Return an item",
    "return_hint": "Scan the item's barcode and a return door opens.",
    "equipment": "Borrow equipment",
    "equipment_hint": "Laptops, hotspots and more, with your library card.",
    "language": "Language",
    "how_pickup": "How do you want to open your locker?",
    "with_card": "Library card and PIN",
    "with_code": "Type the code from my message",
    "with_qr": "Scan the QR code from my message",
    "card": "Library card number",
    "card_help": "Scan your card or type the number on it.",
    "pin": "PIN",
    "pin_help": "The PIN you use for the library's website.",
    "code": "Pickup code",
    "code_help": "The code in the message that said your items are ready.",
    "qr": "QR code",
    "qr_help": "Hold the QR code on your phone or paper under the scanner.",
    "open": "Open my locker",
    "back": "Back",
    "start_over": "Finish",
    "item": "Item barcode",
    "item_help": "Scan the barcode on the item, or type its number.",
    "open_return": "Open a return door",
    "return_opened": "Door {door} is open. Put the item in and close the door.",
    "return_noted": "Thank you. The item is returned when the door is closed; "
    "it leaves your account shortly after.",
    "return_missing": "Please scan or type the item's barcode.",
    "equipment_choose": "What would you like to borrow?",
    "equipment_none": "No equipment is available at this locker right now.",
    "equipment_available": "{count} available",
    "borrow": "Borrow",
    "equipment_unavailable": "Equipment lending is not available at this locker.",
    "doors_open": "Door {doors} is open.",
    "door_open_one": "Door {door}",
    "take_items": "Take your items and close the door.",
    "stay": "These items stay in the locker:",
    "outcome_opened": "Door {doors} is open. Take your items and close the door.",
    "borrow_opened": "Door {door} is open. Take the equipment and close the door.",
    "borrow_fee_accepted": "You accept the charge. Enter your card and PIN again to borrow.",
    "borrow_none_available": "None of these is available here right now.",
    "missing_fields": "Please fill in every field.",
    "timeout_warning": "Are you still there? This screen goes back to the start in "
    "{seconds} seconds and clears what you typed.",
    "more_time": "I need more time",
    "what_happened": "What happened",
    "skip": "Skip to content",
    "help": "Need help? Call the library or ask at the desk.",
    "help_call": "Need help? Call {phone}.",
    "keypad": "Keypad",
    "key_delete": "Delete the last character",
    "key_clear": "Clear",
    # access beyond the keypad (docs/access.md): presence code, card reader, day use, new code
    "phone_heading": "Open with your phone",
    "phone_help": "Type this number on the page from your message, or scan the QR code "
    "with your phone's camera.",
    "phone_number_label": "Number for your phone: {digits}",
    "phone_changes": "The number changes every minute.",
    "phone_qr_alt": "QR code that opens your pickup page on your phone",
    "reader_hint": "You can also hold your library card to the card reader.",
    "reader_pin_title": "Card read",
    "reader_pin_help": "Your card was read. Type your PIN to open your locker.",
    "cancel": "Cancel",
    "reader_again": "To try again, hold your card to the reader again.",
    "dayuse": "Day-use locker",
    "dayuse_hint": "Keep your things in a locker for a few hours, with your library card.",
    "dayuse_intro": "Reserve a locker for a few hours to keep your things. Open it again as "
    "often as you like with the same card and PIN.",
    "dayuse_hours": "For how long? (new reservation)",
    "hour_one": "1 hour",
    "hour_many": "{n} hours",
    "dayuse_use": "Reserve or open my locker",
    "dayuse_finish": "I am done: open one last time",
    "dayuse_reserved": "Door {door} is yours until {until}. Put your things in and close the "
    "door. Open it again with your card and PIN.",
    "dayuse_opened": "Door {door} is open again. Your reservation lasts until {until}.",
    "dayuse_finished": "Door {door} is open: take your things and close the door. Thank you.",
    "dayuse_none_free": "All day-use lockers are taken. Please try again later.",
    "dayuse_over_limit": "Not possible: a day-use locker is for 1 to {max_hours} hours, and "
    "each person can have {per_patron} at a time.",
    "dayuse_not_offered": "This locker has no day-use compartments.",
    "dayuse_no_reservation": "You have no day-use locker reserved here.",
    "newcode": "Lost your code?",
    "newcode_hint": "Get a new pickup code with your card and PIN.",
    "resend_card": "Library card number, to send the message again",
    "newcode_intro": "With your library card and PIN you get a new pickup code here on the "
    "screen, and a new message. The old code stops working at once.",
    "newcode_get": "Show a new code",
    "newcode_resend_heading": "Forgot your PIN?",
    "newcode_resend_help": "We send your message again, with a new code, to the address the "
    "library has for you. Only your card number is needed.",
    "newcode_resend": "Send my message again",
    "newcode_issued": "Here is your new pickup code. The old code no longer works; a new "
    "message is on its way.",
    "newcode_your_code": "Your new pickup code",
    "newcode_code_label": "Your new pickup code: {digits}",
    "newcode_resent": "If something is waiting for this card here, a new message with a code is "
    "on its way to the address the library has for you; a code you already have keeps working.",
    "simulate_help": "This is a demonstration locker: close the door here, as you would at a "
    "real locker.",
    "simulate_close": "Close door {door}",
    "next_desk": "ask at the library desk",
    "next_call": "call the library at {phone}",
    "next_call_library": "call the library",
    "weekdays": "Monday,Tuesday,Wednesday,Thursday,Friday,Saturday,Sunday",
    "months": "January,February,March,April,May,June,July,August,September,October,November,"
    "December",
    "date_long": "{weekday} {day} {month} {year}",
    "try_again": "Try again",
    "outcome_denied_card": "The card number or PIN was not accepted, so no door opened. Check "
    "them and try again.",
    "outcome_denied_code": "This code did not open a locker. Check the digits and try again. If "
    "the code was replaced by a newer one, use the newest, or get a new code with your library "
    "card and PIN.",
    "outcome_locked_out": "Too many tries, so the locker is paused for you. Try again after "
    "{until}, or {help}.",
    "outcome_locked_out_plain": "Too many tries, so the locker is paused for you. Try again in a "
    "few minutes, or {help}.",
    "outcome_blocked": "Your library card cannot borrow right now, so no door opened. To sort it "
    "out, {help}.",
    "outcome_nothing_waiting": "Nothing is waiting for you in this locker. If your message says "
    "something is ready here, check you are at the right locker, or {help}.",
    "outcome_ils_unavailable": "The library's catalogue is not answering right now, so no door "
    "opened. Try again in a few minutes.",
    "outcome_door_failed": "A door did not open. Your loan is recorded and the library has been "
    "told. To get your item, {help}.",
    "outcome_refused": "No door opened: see below.",
    "outcome_partly": "Door {doors} is open. Some items stay in the locker: see below.",
    "fee_question": "Borrowing this costs {fee}. Do you agree to pay it?",
    "fee_agree": "I agree",
    "refusal_fee": "This item has a charge of {fee}.",
    "refusal_ils_unavailable": "The library's catalogue is not answering. Try again in a few "
    "minutes.",
    "refusal_ils_refused": "The library could not lend you this item right now. To find out why, "
    "{help}.",
    "refusal_door_out_of_order": "Its door is out of order. To get this item, {help}.",
    "borrow_fee": "Borrowing this costs {fee}. Do you agree to pay it?",
    "borrow_refused": "You cannot borrow this right now. To find out why, {help}.",
    "borrow_owes_too_much": "{category}: these can be borrowed only while you owe {limit} or "
    "less, and you owe {has}.",
    "borrow_at_limit": "{category}: you already have {has}, and each card can have {limit}.",
    "borrow_blocked": "Your library card cannot borrow right now. To sort it out, {help}.",
    "borrow_door_failed": "Door {door} did not open. The loan is recorded and the library has "
    "been told. To get the equipment, {help}.",
    "return_full": "All return doors are full. Try again later, or {help}.",
    "return_door_failed": "The return door did not open. Try again, or {help}.",
    "receipt_heading": "Your loans",
    "receipt_item": "Item",
    "receipt_due": "Due back",
    "receipt_due_unknown": "See your library account",
    "receipt_due_follows": "Follows by message",
    "outcome_opened_offline": "Door {doors} is open. Take your items and close the door. The "
    "library's catalogue is not answering right now, so your loan will be recorded as soon as "
    "it answers; the due date follows by message.",
    "outcome_card_needs_ils": "The library's catalogue is not answering right now, so your card "
    "and PIN cannot be checked. Please use the pickup code from your message instead: type it "
    "or show its QR code.",
    "receipt_sent": "A receipt is on its way to you by message.",
    "receipt_send": "Send me a receipt",
    "phone_dayuse_help": "At the locker, enter your library card, PIN and the number shown on "
    "the locker screen.",
    "phone_dayuse_locked_out": "Too many wrong numbers. Try again in a few minutes, or use the "
    "screen at the locker.",
    "phone_newcode_pin": "PIN (to see a new code here)",
    "phone_newcode_note": "A new code replaces the old one, which stops working at once.",
    "not_enrolled": "This kiosk is not enrolled",
    "not_enrolled_patron": "This screen cannot open lockers yet. To collect or return items, "
    "{help}.",
    "receipt_send_help": "By e-mail or text message, to the address or phone number the library "
    "has for you.",
    "receipt_queued": "A receipt is on its way to the e-mail address or phone number the library "
    "has for you. Your loans are also in your library account.",
    "receipt_lapsed": "This receipt can no longer be sent from here. Your loans and due dates are "
    "in your library account; to get them another way, {help}.",
    "help_unstaffed": "Need help? Call the library.",
    "reader_denied": "The PIN was not accepted, so no door opened.",
    "reader_unknown_card": "The library does not know this card, so no door opened. Try again "
    "with your library card, or {help}.",
    "reader_unknown_credential": "This card or device is not linked to a library card. Try again "
    "with your library card, or type your card number and PIN on the screen.",
    "reader_refused": "No door opened. Hold your card to the reader again, or {help}.",
    "dayuse_blocked": "Your library card cannot reserve a locker right now. To sort it out, "
    "{help}.",
    "dayuse_door_failed": "Door {door} did not open and the library has been told. Try another "
    "time, or {help}.",
    "newcode_too_many": "A new code was already sent several times today. Open the locker with "
    "your library card and PIN, or {help}.",
    "phone_title": "Your locker",
    "phone_ready": "Your items are ready",
    "phone_door": "Locker door: {doors}",
    "phone_collect_by": "Collect by {date}.",
    "phone_at_locker": "At the locker",
    "phone_at_locker_help": "Scan the code on the locker screen with your camera, or type the "
    "number shown there. Nothing opens until you are at the locker.",
    "phone_number": "Number on the locker screen",
    "phone_accept_fee": "I accept the charge",
    "phone_open_now": "Open your locker now?",
    "phone_link_unusable": "Link not usable",
    "phone_link_fallback": "You can still open the locker with your pickup code, or your library "
    "card and PIN, at the kiosk.",
    "phone_open": "Your locker is open",
    "phone_take": "Take your items and close the door.",
    "phone_link_used": "This link was already used to open your locker. Each link works once.",
    "phone_link_expired": "This link has expired: the items were not collected in time and went "
    "back to the hold shelf. To ask for them again, {help}.",
    "phone_link_revoked": "This link was replaced by a newer message. Use the link in your latest "
    "message.",
    "phone_link_unknown": "This link is not valid. Check that you opened the whole link.",
    "phone_not_here": "That number does not match the locker screen. Check the number shown there "
    "now and try again: it changes every minute.",
    "phone_locked_out": "Too many wrong numbers. Try again in a few minutes, or use your pickup "
    "code or library card at the kiosk.",
    "phone_refused": "The locker did not open for your items. Try again at the kiosk with your "
    "pickup code or library card, or {help}.",
    "phone_fee": "Collecting an item has a charge. Tick “I accept the charge” and open again.",
    "phone_other_bank": "This is the {bank} locker. Your items are at {other}.",
    "phone_link_first": "Open the link in your message first, then scan the code on the screen "
    "again or type the number shown there.",
    "phone_number_other_bank": "That number is from the {other} lockers. Your items are at "
    "{bank}: enter the number shown on the screen there.",
}

ES: dict[str, str] = {
    "title": "Casilleros de la biblioteca",
    "welcome": "Bienvenido. ¿Qué desea hacer?",
    "pickup": "Recoger mis documentos",
    "pickup_hint": "Use su carné y PIN, o el código de su mensaje.",
    "return": "Devolver un documento",
    "return_hint": "Escanee el código de barras y se abrirá una puerta de devolución.",
    "equipment": "Tomar prestado un equipo",
    "equipment_hint": "Portátiles, puntos de acceso y más, con su carné.",
    "language": "Idioma",
    "how_pickup": "¿Cómo quiere abrir su casillero?",
    "with_card": "Carné de la biblioteca y PIN",
    "with_code": "Escribir el código de mi mensaje",
    "with_qr": "Escanear el código QR de mi mensaje",
    "card": "Número de carné",
    "card_help": "Escanee su carné o escriba el número que aparece en él.",
    "pin": "PIN",
    "pin_help": "El PIN que usa en la web de la biblioteca.",
    "code": "Código de recogida",
    "code_help": "El código del mensaje que le avisó de que sus documentos están listos.",
    "qr": "Código QR",
    "qr_help": "Acerque el código QR de su móvil o papel al lector.",
    "open": "Abrir mi casillero",
    "back": "Volver",
    "start_over": "Terminar",
    "item": "Código de barras del documento",
    "item_help": "Escanee el código de barras del documento o escriba su número.",
    "open_return": "Abrir una puerta de devolución",
    "return_opened": "La puerta {door} está abierta. Deje el documento y cierre la puerta.",
    "return_noted": "Gracias. El documento queda devuelto al cerrar la puerta; "
    "saldrá de su cuenta en breve.",
    "return_missing": "Escanee o escriba el código de barras del documento.",
    "equipment_choose": "¿Qué quiere tomar prestado?",
    "equipment_none": "Ahora no hay equipos disponibles en este casillero.",
    "equipment_available": "{count} disponibles",
    "borrow": "Tomar prestado",
    "equipment_unavailable": "El préstamo de equipos no está disponible en este casillero.",
    "doors_open": "La puerta {doors} está abierta.",
    "door_open_one": "Puerta {door}",
    "take_items": "Recoja sus documentos y cierre la puerta.",
    "stay": "Estos documentos se quedan en el casillero:",
    "outcome_opened": "La puerta {doors} está abierta. Recoja sus documentos y cierre la puerta.",
    "borrow_opened": "La puerta {door} está abierta. Recoja el equipo y cierre la puerta.",
    "borrow_fee_accepted": "Acepta el cargo. Vuelva a introducir su carné y su PIN.",
    "borrow_none_available": "Ahora no queda ninguno disponible aquí.",
    "missing_fields": "Rellene todos los campos.",
    "timeout_warning": "¿Sigue ahí? Esta pantalla vuelve al inicio en {seconds} segundos "
    "y borra lo que escribió.",
    "more_time": "Necesito más tiempo",
    "what_happened": "Qué ha pasado",
    "skip": "Ir al contenido",
    "help": "¿Necesita ayuda? Llame a la biblioteca o pregunte en el mostrador.",
    "help_call": "¿Necesita ayuda? Llame al {phone}.",
    "keypad": "Teclado",
    "key_delete": "Borrar el último carácter",
    "key_clear": "Borrar todo",
    "phone_heading": "Abrir con su móvil",
    "phone_help": "Escriba este número en la página de su mensaje, o escanee el código QR "
    "con la cámara de su móvil.",
    "phone_number_label": "Número para su móvil: {digits}",
    "phone_changes": "El número cambia cada minuto.",
    "phone_qr_alt": "Código QR que abre su página de recogida en el móvil",
    "reader_hint": "También puede acercar su carné al lector de tarjetas.",
    "reader_pin_title": "Carné leído",
    "reader_pin_help": "Hemos leído su carné. Escriba su PIN para abrir su casillero.",
    "cancel": "Cancelar",
    "reader_again": "Para intentarlo de nuevo, acerque otra vez su carné al lector.",
    "dayuse": "Casillero por horas",
    "dayuse_hint": "Guarde sus cosas en un casillero unas horas, con su carné.",
    "dayuse_intro": "Reserve un casillero unas horas para guardar sus cosas. Ábrala de nuevo "
    "cuantas veces quiera con el mismo carné y PIN.",
    "dayuse_hours": "¿Por cuánto tiempo? (reserva nueva)",
    "hour_one": "1 hora",
    "hour_many": "{n} horas",
    "dayuse_use": "Reservar o abrir mi casillero",
    "dayuse_finish": "He terminado: abrir por última vez",
    "dayuse_reserved": "La puerta {door} es suya hasta las {until}. Guarde sus cosas y cierre "
    "la puerta. Ábrala de nuevo con su carné y PIN.",
    "dayuse_opened": "La puerta {door} está abierta de nuevo. Su reserva dura hasta las {until}.",
    "dayuse_finished": "La puerta {door} está abierta: recoja sus cosas y cierre la puerta. "
    "Gracias.",
    "dayuse_none_free": "Todos los casilleros por horas están ocupados. Inténtelo más tarde.",
    "dayuse_over_limit": "No es posible: un casillero por horas se reserva de 1 a {max_hours} "
    "horas, y cada persona puede tener {per_patron} a la vez.",
    "dayuse_not_offered": "Este casillero no tiene compartimentos por horas.",
    "dayuse_no_reservation": "No tiene ningún casillero por horas reservado aquí.",
    "newcode": "¿Perdió su código?",
    "newcode_hint": "Obtenga un código de recogida nuevo con su carné y PIN.",
    "resend_card": "Número de carné, para enviar el mensaje de nuevo",
    "newcode_intro": "Con su carné y PIN obtiene aquí un código de recogida nuevo en la "
    "pantalla, y un mensaje nuevo. El código anterior deja de funcionar al momento.",
    "newcode_get": "Mostrar un código nuevo",
    "newcode_resend_heading": "¿Olvidó su PIN?",
    "newcode_resend_help": "Le enviamos de nuevo su mensaje, con un código nuevo, a la "
    "dirección que tiene la biblioteca. Solo hace falta el número de carné.",
    "newcode_resend": "Enviar mi mensaje de nuevo",
    "newcode_issued": "Este es su nuevo código de recogida. El código anterior ya no funciona; "
    "le llega un mensaje nuevo.",
    "newcode_your_code": "Su nuevo código de recogida",
    "newcode_code_label": "Su nuevo código de recogida: {digits}",
    "newcode_resent": "Si hay algo esperando para este carné aquí, le llega un mensaje nuevo con "
    "un código a la dirección que tiene la biblioteca; el código que ya tiene sigue valiendo.",
    "simulate_help": "Este es un casillero de demostración: cierre la puerta aquí, como lo "
    "haría en un casillero real.",
    "simulate_close": "Cerrar la puerta {door}",
    "next_desk": "pregunte en el mostrador de la biblioteca",
    "next_call": "llame a la biblioteca al {phone}",
    "next_call_library": "llame a la biblioteca",
    "weekdays": "lunes,martes,miércoles,jueves,viernes,sábado,domingo",
    "months": "enero,febrero,marzo,abril,mayo,junio,julio,agosto,septiembre,octubre,noviembre,"
    "diciembre",
    "date_long": "{weekday} {day} de {month} de {year}",
    "try_again": "Intentar de nuevo",
    "outcome_denied_card": "No se aceptó el número de carné o el PIN, así que no se abrió ninguna "
    "puerta. Revíselos e inténtelo de nuevo.",
    "outcome_denied_code": "Este código no abrió ningún casillero. Revise los dígitos e inténtelo "
    "de nuevo. Si recibió un código más reciente, use el último, u obtenga un código nuevo con su "
    "carné y PIN.",
    "outcome_locked_out": "Demasiados intentos: el casillero queda en pausa para usted. Inténtelo "
    "de nuevo después de las {until} o {help}.",
    "outcome_locked_out_plain": "Demasiados intentos: el casillero queda en pausa para usted. "
    "Inténtelo de nuevo en unos minutos o {help}.",
    "outcome_blocked": "Su carné no puede tomar préstamos ahora, así que no se abrió ninguna "
    "puerta. Para resolverlo, {help}.",
    "outcome_nothing_waiting": "No hay nada esperándole en este casillero. Si su mensaje dice que "
    "hay algo listo aquí, compruebe que está en el casillero correcto o {help}.",
    "outcome_ils_unavailable": "El catálogo de la biblioteca no responde ahora, así que no se "
    "abrió ninguna puerta. Inténtelo de nuevo en unos minutos.",
    "outcome_door_failed": "Una puerta no se abrió. Su préstamo está registrado y la biblioteca "
    "ya lo sabe. Para recibir su documento, {help}.",
    "outcome_refused": "No se abrió ninguna puerta: vea abajo.",
    "outcome_partly": "La puerta {doors} está abierta. Algunos documentos se quedan en el "
    "casillero: vea abajo.",
    "fee_question": "Este préstamo cuesta {fee}. ¿Acepta pagarlo?",
    "fee_agree": "Acepto",
    "refusal_fee": "Este documento tiene un cargo de {fee}.",
    "refusal_ils_unavailable": "El catálogo de la biblioteca no responde. Inténtelo de nuevo en "
    "unos minutos.",
    "refusal_ils_refused": "La biblioteca no puede prestarle este documento ahora. Para saber por "
    "qué, {help}.",
    "refusal_door_out_of_order": "Su puerta está averiada. Para recibir este documento, {help}.",
    "borrow_fee": "Este préstamo cuesta {fee}. ¿Acepta pagarlo?",
    "borrow_refused": "Ahora no puede tomar prestado este equipo. Para saber por qué, {help}.",
    "borrow_owes_too_much": "{category}: solo se prestan si debe {limit} o menos; usted debe "
    "{has}.",
    "borrow_at_limit": "{category}: ya tiene {has}, y cada carné puede tener {limit}.",
    "borrow_blocked": "Su carné no puede tomar préstamos ahora. Para resolverlo, {help}.",
    "borrow_door_failed": "La puerta {door} no se abrió. El préstamo está registrado y la "
    "biblioteca ya lo sabe. Para recibir el equipo, {help}.",
    "return_full": "Todas las puertas de devolución están llenas. Inténtelo más tarde o {help}.",
    "return_door_failed": "La puerta de devolución no se abrió. Inténtelo de nuevo o {help}.",
    "receipt_heading": "Sus préstamos",
    "receipt_item": "Documento",
    "receipt_due": "Fecha de devolución",
    "receipt_due_unknown": "Consulte su cuenta de la biblioteca",
    "receipt_due_follows": "Le llegará por mensaje",
    "outcome_opened_offline": "La puerta {doors} está abierta. Recoja sus documentos y cierre la "
    "puerta. El catálogo de la biblioteca no responde ahora, así que su préstamo se registrará "
    "en cuanto responda; la fecha de devolución le llegará por mensaje.",
    "outcome_card_needs_ils": "El catálogo de la biblioteca no responde ahora, así que no se "
    "pueden comprobar su tarjeta y su PIN. Use el código de recogida de su mensaje: escríbalo o "
    "muestre su código QR.",
    "receipt_sent": "Le enviamos un recibo por mensaje.",
    "receipt_send": "Enviarme un recibo",
    "phone_dayuse_help": "En el casillero, escriba su carné, su PIN y el número que aparece en la "
    "pantalla del casillero.",
    "phone_dayuse_locked_out": "Demasiados números incorrectos. Inténtelo de nuevo en unos "
    "minutos, o use la pantalla del casillero.",
    "phone_newcode_pin": "PIN (para ver aquí un código nuevo)",
    "phone_newcode_note": "Un código nuevo sustituye al anterior, que deja de funcionar al "
    "momento.",
    "not_enrolled": "Este quiosco no está registrado",
    "not_enrolled_patron": "Esta pantalla todavía no puede abrir casilleros. Para recoger o "
    "devolver documentos, {help}.",
    "receipt_send_help": "Por correo electrónico o mensaje de texto, a la dirección o el teléfono "
    "que la biblioteca tiene de usted.",
    "receipt_queued": "Le enviamos un recibo al correo electrónico o al teléfono que la "
    "biblioteca tiene de usted. Sus préstamos también están en su cuenta de la biblioteca.",
    "receipt_lapsed": "Este recibo ya no se puede enviar desde aquí. Sus préstamos y sus fechas "
    "de devolución están en su cuenta de la biblioteca; para recibirlos de otra forma, {help}.",
    "help_unstaffed": "¿Necesita ayuda? Llame a la biblioteca.",
    "reader_denied": "No se aceptó el PIN, así que no se abrió ninguna puerta.",
    "reader_unknown_card": "La biblioteca no conoce este carné, así que no se abrió ninguna "
    "puerta. Inténtelo de nuevo con su carné de la biblioteca o {help}.",
    "reader_unknown_credential": "Esta tarjeta o dispositivo no está vinculado a un carné de la "
    "biblioteca. Inténtelo de nuevo con su carné, o escriba su número de carné y PIN en la "
    "pantalla.",
    "reader_refused": "No se abrió ninguna puerta. Acerque de nuevo su carné al lector o {help}.",
    "dayuse_blocked": "Su carné no puede reservar un casillero ahora. Para resolverlo, {help}.",
    "dayuse_door_failed": "La puerta {door} no se abrió y la biblioteca ya lo sabe. Inténtelo en "
    "otro momento o {help}.",
    "newcode_too_many": "Hoy ya se le envió un código nuevo varias veces. Abra el casillero con "
    "su carné y PIN o {help}.",
    "phone_title": "Su casillero",
    "phone_ready": "Sus documentos están listos",
    "phone_door": "Puerta del casillero: {doors}",
    "phone_collect_by": "Recójalos hasta el {date}.",
    "phone_at_locker": "En el casillero",
    "phone_at_locker_help": "Escanee con la cámara el código de la pantalla del casillero, o "
    "escriba el número que aparece en ella. No se abre nada hasta que esté en el casillero.",
    "phone_number": "Número de la pantalla del casillero",
    "phone_accept_fee": "Acepto el cargo",
    "phone_open_now": "¿Abrir su casillero ahora?",
    "phone_link_unusable": "Enlace no válido",
    "phone_link_fallback": "Puede abrir el casillero en la pantalla con su código de recogida, o "
    "con su carné y PIN.",
    "phone_open": "Su casillero está abierto",
    "phone_take": "Recoja sus documentos y cierre la puerta.",
    "phone_link_used": "Este enlace ya se usó para abrir su casillero. Cada enlace funciona una "
    "vez.",
    "phone_link_expired": "Este enlace caducó: los documentos no se recogieron a tiempo y "
    "volvieron al estante de reservas. Para pedirlos de nuevo, {help}.",
    "phone_link_revoked": "Este enlace fue sustituido por un mensaje más reciente. Use el enlace "
    "de su último mensaje.",
    "phone_link_unknown": "Este enlace no es válido. Compruebe que abrió el enlace completo.",
    "phone_not_here": "Ese número no coincide con la pantalla del casillero. Revise el número que "
    "aparece ahora e inténtelo de nuevo: cambia cada minuto.",
    "phone_locked_out": "Demasiados números incorrectos. Inténtelo de nuevo en unos minutos, o "
    "use su código de recogida o su carné en la pantalla del casillero.",
    "phone_refused": "El casillero no se abrió para sus documentos. Inténtelo de nuevo en la "
    "pantalla con su código de recogida o su carné, o {help}.",
    "phone_fee": "Recoger un documento tiene un cargo. Marque “Acepto el cargo” y abra de nuevo.",
    "phone_other_bank": "Este es el casillero {bank}. Sus documentos están en {other}.",
    "phone_link_first": "Abra primero el enlace de su mensaje y luego escanee de nuevo el código "
    "de la pantalla, o escriba el número que aparece en ella.",
    "phone_number_other_bank": "Ese número es de los casilleros de {other}. Sus documentos están "
    "en {bank}: escriba el número que aparece en la pantalla de allí.",
}

CATALOGUE: dict[str, dict[str, str]] = {"en": EN, "es": ES}


def language(requested: str | None, default: str) -> str:
    """The language to use: the one asked for if we have it, else the bank's, else English."""
    for lang in (requested, default):
        if lang and lang in CATALOGUE:
            return lang
    return "en"


def has_text(key: str) -> bool:
    """Whether the catalogue has ``key`` (English is the complete one)."""
    return key in EN


def text(lang: str, key: str, **values: Any) -> str:
    template = CATALOGUE.get(lang, EN).get(key) or EN[key]
    return template.format(**values) if values else template
