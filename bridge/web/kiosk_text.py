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
    "return_full": "All return doors are full. Please return the item at the library desk.",
    "return_missing": "Please scan or type the item's barcode.",
    "equipment_choose": "What would you like to borrow?",
    "equipment_none": "No equipment is available at this locker right now.",
    "equipment_available": "{count} available",
    "borrow": "Borrow",
    "equipment_unavailable": "Equipment lending is not available at this locker.",
    "fee_accept": "I accept the fee and want to borrow it",
    "fee_line": "This loan has a fee: {fee}.",
    "doors_open": "Door {doors} is open.",
    "door_open_one": "Door {door}",
    "take_items": "Take your items and close the door.",
    "stay": "These items stay in the locker:",
    "outcome_opened": "Door {doors} is open. Take your items and close the door.",
    "outcome_partly": "Door {doors} is open. Some items stay in the locker: see below.",
    "outcome_refused": "Your items stay in the locker: see below.",
    "outcome_denied": "The card and PIN, or the code, did not match. Please try again.",
    "outcome_locked_out": "Too many tries. Please wait until {until} or see staff.",
    "outcome_locked_out_plain": "Too many tries. Please wait a while or see staff.",
    "outcome_blocked": "Your card cannot borrow right now. Please see staff; "
    "your items stay in the locker.",
    "outcome_nothing_waiting": "Nothing is waiting for you in this locker.",
    "outcome_ils_unavailable": "The library system is not answering right now. "
    "Please try again in a few minutes.",
    "outcome_door_failed": "A door did not open. Your loan is recorded and staff have been "
    "told; they will hand you the item.",
    "refusal_fee": "This loan has a charge of {fee}. Accept it to take the item.",
    "refusal_ils_unavailable": "The library system is not answering. "
    "Please try again in a few minutes.",
    "refusal_ils_refused": "The library system did not allow this loan. Please see staff.",
    "borrow_opened": "Door {door} is open. Take the equipment and close the door.",
    "borrow_fee": "Borrowing this costs {fee}. To accept the charge, choose the button below "
    "and enter your card and PIN again.",
    "borrow_fee_accepted": "You accept the charge. Enter your card and PIN again to borrow.",
    "borrow_refused": "You cannot borrow this right now. Please see staff.",
    "borrow_none_available": "None of these is available here right now.",
    "borrow_blocked": "Your card cannot borrow right now. Please see staff.",
    "borrow_door_failed": "Door {door} did not open. The loan is recorded; staff have been "
    "told and will hand you the equipment.",
    "missing_fields": "Please fill in every field.",
    "timeout_warning": "Are you still there? This screen goes back to the start in "
    "{seconds} seconds and clears what you typed.",
    "more_time": "I need more time",
    "what_happened": "What happened",
    "skip": "Skip to content",
    "help": "Need help? Call the library or ask at the desk.",
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
    "reader_unknown_card": "The library does not know this card. Please check it with staff.",
    "reader_unknown_credential": "This card or device is not linked to a library card. "
    "Please use your library card, or ask staff to link it.",
    "reader_refused": "No door opened. Please hold your card to the reader again, or see staff.",
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
    "dayuse_blocked": "Your library card cannot reserve a locker right now. Please see staff.",
    "dayuse_not_offered": "This locker has no day-use compartments.",
    "dayuse_no_reservation": "You have no day-use locker reserved here.",
    "dayuse_door_failed": "Door {door} did not open. Staff have been told; please ask at "
    "the desk.",
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
    "newcode_too_many": "A new code was already sent several times today. Please ask staff, "
    "or open the locker with your library card and PIN.",
    "newcode_resent": "If something is waiting for this card here, a new message with a code is "
    "on its way to the address the library has for you; a code you already have keeps working.",
    "simulate_help": "This is a demonstration locker: close the door here, as you would at a "
    "real locker.",
    "simulate_close": "Close door {door}",
}

ES: dict[str, str] = {
    "title": "Taquillas de la biblioteca",
    "welcome": "Bienvenido. ¿Qué desea hacer?",
    "pickup": "Recoger mis documentos",
    "pickup_hint": "Use su carné y PIN, o el código de su mensaje.",
    "return": "Devolver un documento",
    "return_hint": "Escanee el código de barras y se abrirá una puerta de devolución.",
    "equipment": "Tomar prestado un equipo",
    "equipment_hint": "Portátiles, puntos de acceso y más, con su carné.",
    "language": "Idioma",
    "how_pickup": "¿Cómo quiere abrir su taquilla?",
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
    "open": "Abrir mi taquilla",
    "back": "Volver",
    "start_over": "Terminar",
    "item": "Código de barras del documento",
    "item_help": "Escanee el código de barras del documento o escriba su número.",
    "open_return": "Abrir una puerta de devolución",
    "return_opened": "La puerta {door} está abierta. Deje el documento y cierre la puerta.",
    "return_noted": "Gracias. El documento queda devuelto al cerrar la puerta; "
    "saldrá de su cuenta en breve.",
    "return_full": "Todas las puertas de devolución están llenas. "
    "Devuelva el documento en el mostrador.",
    "return_missing": "Escanee o escriba el código de barras del documento.",
    "equipment_choose": "¿Qué quiere tomar prestado?",
    "equipment_none": "Ahora no hay equipos disponibles en esta taquilla.",
    "equipment_available": "{count} disponibles",
    "borrow": "Tomar prestado",
    "equipment_unavailable": "El préstamo de equipos no está disponible en esta taquilla.",
    "fee_accept": "Acepto la tarifa y quiero el préstamo",
    "fee_line": "Este préstamo tiene una tarifa: {fee}.",
    "doors_open": "La puerta {doors} está abierta.",
    "door_open_one": "Puerta {door}",
    "take_items": "Recoja sus documentos y cierre la puerta.",
    "stay": "Estos documentos se quedan en la taquilla:",
    "outcome_opened": "La puerta {doors} está abierta. Recoja sus documentos y cierre la puerta.",
    "outcome_partly": "La puerta {doors} está abierta. Algunos documentos se quedan en la "
    "taquilla: vea abajo.",
    "outcome_refused": "Sus documentos se quedan en la taquilla: vea abajo.",
    "outcome_denied": "El carné y el PIN, o el código, no coinciden. Inténtelo de nuevo.",
    "outcome_locked_out": "Demasiados intentos. Espere hasta las {until} o consulte al personal.",
    "outcome_locked_out_plain": "Demasiados intentos. Espere un rato o consulte al personal.",
    "outcome_blocked": "Su carné no puede tomar préstamos ahora. Consulte al personal; "
    "sus documentos se quedan en la taquilla.",
    "outcome_nothing_waiting": "No hay nada esperándole en esta taquilla.",
    "outcome_ils_unavailable": "El sistema de la biblioteca no responde ahora. "
    "Inténtelo de nuevo en unos minutos.",
    "outcome_door_failed": "Una puerta no se abrió. Su préstamo está registrado y el personal "
    "ya lo sabe; le entregarán el documento.",
    "refusal_fee": "Este préstamo tiene un cargo de {fee}. Acéptelo para llevarse el documento.",
    "refusal_ils_unavailable": "El sistema de la biblioteca no responde. "
    "Inténtelo de nuevo en unos minutos.",
    "refusal_ils_refused": "El sistema de la biblioteca no permitió este préstamo. "
    "Consulte al personal.",
    "borrow_opened": "La puerta {door} está abierta. Recoja el equipo y cierre la puerta.",
    "borrow_fee": "Este préstamo cuesta {fee}. Para aceptar el cargo, pulse el botón de abajo "
    "y vuelva a introducir su carné y su PIN.",
    "borrow_fee_accepted": "Acepta el cargo. Vuelva a introducir su carné y su PIN.",
    "borrow_refused": "Ahora no puede tomar prestado este equipo. Consulte al personal.",
    "borrow_none_available": "Ahora no queda ninguno disponible aquí.",
    "borrow_blocked": "Su carné no puede tomar préstamos ahora. Consulte al personal.",
    "borrow_door_failed": "La puerta {door} no se abrió. El préstamo está registrado y el "
    "personal ya lo sabe; le entregarán el equipo.",
    "missing_fields": "Rellene todos los campos.",
    "timeout_warning": "¿Sigue ahí? Esta pantalla vuelve al inicio en {seconds} segundos "
    "y borra lo que escribió.",
    "more_time": "Necesito más tiempo",
    "what_happened": "Qué ha pasado",
    "skip": "Ir al contenido",
    "help": "¿Necesita ayuda? Llame a la biblioteca o pregunte en el mostrador.",
    "phone_heading": "Abrir con su móvil",
    "phone_help": "Escriba este número en la página de su mensaje, o escanee el código QR "
    "con la cámara de su móvil.",
    "phone_number_label": "Número para su móvil: {digits}",
    "phone_changes": "El número cambia cada minuto.",
    "phone_qr_alt": "Código QR que abre su página de recogida en el móvil",
    "reader_hint": "También puede acercar su carné al lector de tarjetas.",
    "reader_pin_title": "Carné leído",
    "reader_pin_help": "Hemos leído su carné. Escriba su PIN para abrir su taquilla.",
    "reader_unknown_card": "La biblioteca no conoce este carné. Consúltelo con el personal.",
    "reader_unknown_credential": "Esta tarjeta o dispositivo no está vinculado a un carné de "
    "la biblioteca. Use su carné o pida al personal que lo vincule.",
    "reader_refused": "No se abrió ninguna puerta. Acerque de nuevo su carné al lector o "
    "consulte al personal.",
    "cancel": "Cancelar",
    "reader_again": "Para intentarlo de nuevo, acerque otra vez su carné al lector.",
    "dayuse": "Taquilla por horas",
    "dayuse_hint": "Guarde sus cosas en una taquilla unas horas, con su carné.",
    "dayuse_intro": "Reserve una taquilla unas horas para guardar sus cosas. Ábrala de nuevo "
    "cuantas veces quiera con el mismo carné y PIN.",
    "dayuse_hours": "¿Por cuánto tiempo? (reserva nueva)",
    "hour_one": "1 hora",
    "hour_many": "{n} horas",
    "dayuse_use": "Reservar o abrir mi taquilla",
    "dayuse_finish": "He terminado: abrir por última vez",
    "dayuse_reserved": "La puerta {door} es suya hasta las {until}. Guarde sus cosas y cierre "
    "la puerta. Ábrala de nuevo con su carné y PIN.",
    "dayuse_opened": "La puerta {door} está abierta de nuevo. Su reserva dura hasta las {until}.",
    "dayuse_finished": "La puerta {door} está abierta: recoja sus cosas y cierre la puerta. "
    "Gracias.",
    "dayuse_none_free": "Todas las taquillas por horas están ocupadas. Inténtelo más tarde.",
    "dayuse_over_limit": "No es posible: una taquilla por horas se reserva de 1 a {max_hours} "
    "horas, y cada persona puede tener {per_patron} a la vez.",
    "dayuse_blocked": "Su carné no puede reservar una taquilla ahora. Consulte al personal.",
    "dayuse_not_offered": "Esta taquilla no tiene compartimentos por horas.",
    "dayuse_no_reservation": "No tiene ninguna taquilla por horas reservada aquí.",
    "dayuse_door_failed": "La puerta {door} no se abrió. El personal ya lo sabe; pregunte en "
    "el mostrador.",
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
    "newcode_too_many": "Hoy ya se le envió un código nuevo varias veces. Consulte al personal "
    "o abra la taquilla con su carné y PIN.",
    "newcode_resent": "Si hay algo esperando para este carné aquí, le llega un mensaje nuevo con "
    "un código a la dirección que tiene la biblioteca; el código que ya tiene sigue valiendo.",
    "simulate_help": "Esta es una taquilla de demostración: cierre la puerta aquí, como lo "
    "haría en una taquilla real.",
    "simulate_close": "Cerrar la puerta {door}",
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
